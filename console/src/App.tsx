// The console's shell: sign-in, the session (urql client and its socket), the header, the
// reconnecting banner, the notices of acts, and which room is open.
import { print } from 'graphql';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { Provider } from 'urql';
import { openSession, type Connection, type Session } from './client';
import { Console, type ConsoleContext } from './context';
import { bearer, forgetCredential, loadCredential, saveCredential } from './credential';
import { ActError, describeError } from './errors';
import { pickLanguage, translator } from './i18n';
import { WholeAuditPage } from './Audit';
import { ViewerQuery, type Viewer } from './operations';
import { RoomPage } from './Room';
import { RoomsPage } from './Rooms';

const language = pickLanguage(navigator.languages?.length ? navigator.languages : [navigator.language]);
const t = translator(language);

interface Notice {
  id: number;
  ok: boolean;
  text: string;
}

async function whoIs(credential: string): Promise<Viewer> {
  const response = await fetch('/graphql', {
    method: 'POST',
    headers: { authorization: bearer(credential), 'content-type': 'application/json', 'accept-language': language },
    body: JSON.stringify({ query: print(ViewerQuery) }),
  }).catch((error: unknown) => {
    throw new ActError('network', String(error));
  });
  const body = (await response.json().catch(() => ({}))) as {
    data?: { viewer: Viewer };
    errors?: { message: string; extensions?: { code?: string } }[];
  };
  const first = body.errors?.[0];
  if (first) throw new ActError(first.extensions?.code ?? 'other', first.message);
  if (!body.data) throw new ActError('other', `HTTP ${response.status}`);
  return body.data.viewer;
}

export function App() {
  const [credential, setCredential] = useState<string | null>(() =>
    loadCredential(sessionStorage, window.location, window.history),
  );
  const [viewer, setViewer] = useState<Viewer | null>(null);
  const [signInError, setSignInError] = useState<string | null>(null);
  const [checking, setChecking] = useState(credential !== null);

  useEffect(() => {
    document.documentElement.lang = language;
    document.title = t('title');
  }, []);

  useEffect(() => {
    if (credential === null) return;
    let current = true;
    setChecking(true);
    whoIs(credential)
      .then((who) => current && (setViewer(who), setSignInError(null)))
      .catch((error: unknown) => {
        if (!current) return;
        forgetCredential(sessionStorage);
        setCredential(null);
        setViewer(null);
        setSignInError(describeError(error, t));
      })
      .finally(() => current && setChecking(false));
    return () => {
      current = false;
    };
  }, [credential]);

  const signOut = useCallback((reason: string | null = null) => {
    forgetCredential(sessionStorage);
    setCredential(null);
    setViewer(null);
    setSignInError(reason);
  }, []);

  if (credential === null || viewer === null) {
    return (
      <SignIn
        busy={checking}
        error={signInError}
        onSubmit={(value) => {
          saveCredential(sessionStorage, value.trim());
          setCredential(value.trim());
        }}
      />
    );
  }
  return <Signed credential={credential} viewer={viewer} onSignOut={signOut} />;
}

function SignIn({ busy, error, onSubmit }: { busy: boolean; error: string | null; onSubmit: (value: string) => void }) {
  const [value, setValue] = useState('');
  return (
    <main className="sign-in">
      <h1>{t('title')}</h1>
      <form
        aria-labelledby="sign-in-title"
        onSubmit={(event) => {
          event.preventDefault();
          if (value.trim()) onSubmit(value);
        }}
      >
        <h2 id="sign-in-title">{t('signInTitle')}</h2>
        <p id="sign-in-help">{t('signInHelp')}</p>
        <label htmlFor="credential">{t('credential')}</label>
        <textarea
          id="credential"
          aria-describedby="sign-in-help"
          autoComplete="off"
          spellCheck={false}
          rows={3}
          value={value}
          onChange={(event) => setValue(event.target.value)}
        />
        {error && (
          <p role="alert" className="error" data-testid="sign-in-error">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {t('signIn')}
        </button>
      </form>
    </main>
  );
}

function Signed({
  credential,
  viewer,
  onSignOut,
}: {
  credential: string;
  viewer: Viewer;
  onSignOut: (reason?: string | null) => void;
}) {
  const [connection, setConnection] = useState<Connection>('connecting');
  // What the page shows: the rooms, one room, or (admins) the whole audit trail.
  const [room, setRoom] = useState<string | null>(null);
  const [wholeAudit, setWholeAudit] = useState(false);
  const isAdmin = viewer.roles.includes('admin');
  const [notices, setNotices] = useState<Notice[]>([]);
  const counter = useRef(0);
  const session = useMemo<Session>(() => openSession(credential, setConnection, language), [credential]);
  useEffect(() => () => void session.sockets.dispose(), [session]);

  const notify = useCallback((ok: boolean, text: string) => {
    const id = ++counter.current;
    setNotices((all) => [{ id, ok, text }, ...all].slice(0, 5));
  }, []);

  const context = useMemo<ConsoleContext>(
    () => ({
      t,
      viewer,
      act: async (label, run) => {
        try {
          await run();
          notify(true, t('done', { act: label }));
          return true;
        } catch (error) {
          const described = describeError(error, t);
          notify(false, t('failed', { act: label, error: described }));
          if (error instanceof ActError && error.code === 'UNAUTHENTICATED') onSignOut(described);
          return false;
        }
      },
    }),
    [viewer, notify, onSignOut],
  );

  useEffect(() => {
    if (connection === 'refused') onSignOut(t('err_UNAUTHENTICATED'));
  }, [connection, onSignOut]);

  const roles = viewer.roles.join(', ');
  return (
    <Provider value={session.client}>
      <Console.Provider value={context}>
        <header className="top">
          <h1>{t('title')}</h1>
          <p data-testid="viewer">{t('signedInAs', { uid: viewer.uid, roles })}</p>
          {isAdmin && (
            <button type="button" aria-pressed={wholeAudit} onClick={() => setWholeAudit((shown) => !shown)}>
              {t('auditAll')}
            </button>
          )}
          <button type="button" onClick={() => onSignOut(null)}>
            {t('signOut')}
          </button>
        </header>
        {connection === 'reconnecting' && (
          <div role="status" className="banner" data-testid="reconnecting">
            {t('reconnecting')}
          </div>
        )}
        <section aria-live="polite" aria-label={t('bulkResults')} className="notices" data-testid="notices">
          {notices.map((notice) => (
            <p key={notice.id} className={notice.ok ? 'ok' : 'error'}>
              {notice.text}
            </p>
          ))}
        </section>
        <main>
          {wholeAudit ? (
            <WholeAuditPage onBack={() => setWholeAudit(false)} />
          ) : room === null ? (
            <RoomsPage onOpen={setRoom} />
          ) : (
            <RoomPage room={room} onBack={() => setRoom(null)} />
          )}
        </main>
      </Console.Provider>
    </Provider>
  );
}

