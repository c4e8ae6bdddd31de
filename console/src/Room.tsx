// One room, live: its participants (a virtualized list, so hundreds stay smooth), the selected
// participant's details and edits, bulk acts (BulkActs), its moderation (lock, mute-all, bans), a
// join token, and the feed; or, in the other view, its audit trail. One subscription feeds both views.
import { useEffect, useMemo, useReducer, useRef, useState } from 'react';
import { useClient } from 'urql';
import { mutate } from './acts';
import { BulkActs } from './BulkActs';
import { moderates, useConsole } from './context';
import {
  CreateToken,
  DeleteRoom,
  KickParticipant,
  MuteParticipant,
  RoomEvents,
  type RoomEvent,
} from './operations';
import { AuditTrail } from './Audit';
import { ModerationPanel, type BanRequest } from './Moderation';
import { ParticipantDetails } from './ParticipantDetails';
import { applyEvent, emptyRoom, type Participant } from './roomState';
import { visibleRows } from './virtual';

const ROW_HEIGHT = 64;

export const audioMuted = (participant: Participant) => {
  const audio = participant.tracks.filter((track) => track.type === 'AUDIO');
  return audio.length > 0 && audio.every((track) => track.muted);
};

export function RoomPage({ room, onBack }: { room: string; onBack: () => void }) {
  const { t, viewer, act } = useConsole();
  const client = useClient();
  const [state, dispatch] = useReducer(applyEvent, undefined, emptyRoom);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [focus, setFocus] = useState<string | null>(null);
  const [confirming, setConfirming] = useState(false);
  const [view, setView] = useState<'room' | 'audit'>('room');
  const [banRequest, setBanRequest] = useState<BanRequest | null>(null);
  const mayModerate = moderates(viewer, room);

  useEffect(() => {
    const subscription = client
      .subscription(RoomEvents, { room })
      .subscribe((result) => result.data && dispatch(result.data.roomEvents as RoomEvent));
    return () => subscription.unsubscribe();
  }, [client, room]);

  // By identity: a stable order, so rows do not move while people join and leave.
  const participants = useMemo(
    () => [...state.participants.values()].sort((a, b) => (a.identity < b.identity ? -1 : a.identity > b.identity ? 1 : 0)),
    [state.participants],
  );
  const identities = useMemo(() => participants.map((p) => p.identity), [participants]);
  const focused = focus === null ? undefined : state.participants.get(focus);

  const mute = (identity: string, muted: boolean) =>
    mutate(client, MuteParticipant, { room, identity, muted }).then(() => undefined);
  const kick = (identity: string) => mutate(client, KickParticipant, { room, identity }).then(() => undefined);
  return (
    <section aria-labelledby="room-title" className="room">
      <div className="room-head">
        <button type="button" onClick={onBack}>
          ← {t('back')}
        </button>
        <h2 id="room-title">{room}</h2>
        <span data-testid="room-count">{t('participantsCount', { n: participants.length })}</span>
        {mayModerate &&
          (confirming ? (
            <span role="group" aria-label={t('closeRoom')}>
              {t('confirmClose', { room })}{' '}
              <button
                type="button"
                className="danger"
                onClick={() =>
                  void act(t('act_closeRoom', { room }), () => mutate(client, DeleteRoom, { name: room })).then(
                    (ok) => ok && onBack(),
                  )
                }
              >
                {t('closeRoom')}
              </button>
            </span>
          ) : (
            <button type="button" className="danger" onClick={() => setConfirming(true)}>
              {t('closeRoom')}
            </button>
          ))}
      </div>
      {state.closed && <p role="status">{t('roomClosed')}</p>}
      {mayModerate && (
        <nav className="tabs" aria-label={t('tabs')}>
          {(['room', 'audit'] as const).map((name) => (
            <button key={name} type="button" aria-pressed={view === name} onClick={() => setView(name)}>
              {t(name === 'room' ? 'tabRoom' : 'tabAudit')}
            </button>
          ))}
        </nav>
      )}
      {view === 'audit' && mayModerate ? (
        <AuditTrail room={room} changes={state.changes} />
      ) : (
        <div className="room-body">
          <div className="people">
            <h3>{t('participants')}</h3>
            {mayModerate && (
              <BulkActs room={room} participants={participants} selected={selected} onSelect={setSelected} />
            )}
            {participants.length === 0 ? (
              <p>{t('noParticipants')}</p>
            ) : (
              <ParticipantList
                participants={participants}
                selected={selected}
                mayModerate={mayModerate}
                onToggle={(identity, on) =>
                  setSelected((all) => {
                    const next = new Set(all);
                    if (on) next.add(identity);
                    else next.delete(identity);
                    return next;
                  })
                }
                onFocus={setFocus}
                onMute={(p, muted) =>
                  void act(t(muted ? 'act_mute' : 'act_unmute', { identity: p.identity }), () => mute(p.identity, muted))
                }
                onKick={(p) => void act(t('act_kick', { identity: p.identity }), () => kick(p.identity))}
                onBan={(p) => setBanRequest((last) => ({ identity: p.identity, asked: (last?.asked ?? 0) + 1 }))}
              />
            )}
          </div>
          <aside className="side">
            {focused && <ParticipantDetails room={room} participant={focused} mayModerate={mayModerate} />}
            {mayModerate && (
              <ModerationPanel
                room={room}
                version={state.moderation}
                request={banRequest}
                muteAll={{ version: state.muteAll, present: identities, selected }}
              />
            )}
            <MintToken room={room} />
            <Feed entries={state.feed} />
          </aside>
        </div>
      )}
    </section>
  );
}

function ParticipantList(props: {
  participants: Participant[];
  selected: Set<string>;
  mayModerate: boolean;
  onToggle: (identity: string, on: boolean) => void;
  onFocus: (identity: string) => void;
  onMute: (participant: Participant, muted: boolean) => void;
  onKick: (participant: Participant) => void;
  onBan: (participant: Participant) => void;
}) {
  const { t } = useConsole();
  const box = useRef<HTMLDivElement>(null);
  const [scroll, setScroll] = useState({ top: 0, height: 600 });
  useEffect(() => {
    const element = box.current;
    if (!element) return;
    const measure = () => setScroll({ top: element.scrollTop, height: element.clientHeight });
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(element);
    return () => observer.disconnect();
  }, []);
  const view = visibleRows(props.participants.length, ROW_HEIGHT, scroll.top, scroll.height);
  const rows = props.participants.slice(view.first, view.last);
  return (
    <div
      ref={box}
      className="list"
      data-testid="participants"
      tabIndex={0}
      role="region"
      aria-label={t('participants')}
      onScroll={(event) => setScroll({ top: event.currentTarget.scrollTop, height: event.currentTarget.clientHeight })}
    >
      <ul style={{ height: view.height }}>
        {rows.map((p, index) => {
          const muted = audioMuted(p);
          return (
            <li
              key={p.sid}
              data-identity={p.identity}
              className="row"
              style={{ top: view.offset + index * ROW_HEIGHT, height: ROW_HEIGHT }}
            >
              {props.mayModerate && (
                <input
                  type="checkbox"
                  aria-label={t('select', { identity: p.identity })}
                  checked={props.selected.has(p.identity)}
                  onChange={(event) => props.onToggle(p.identity, event.target.checked)}
                />
              )}
              <div className="who">
                <strong>{p.identity}</strong> {p.name && p.name !== p.identity && <span>({p.name})</span>}
                <div className="meta">
                  <span>{p.state}</span> · <time>{new Date(p.joinedAtMs).toLocaleTimeString()}</time> ·{' '}
                  <span data-testid="tracks">
                    {p.tracks.length === 0
                      ? t('noTracks')
                      : p.tracks
                          .map((track) => `${track.source} ${track.muted ? t('muted') : t('live')}${track.simulcast ? ` ${t('simulcast')}` : ''}`)
                          .join(', ')}
                  </span>
                </div>
              </div>
              <div className="row-acts">
                <button type="button" onClick={() => props.onFocus(p.identity)} aria-label={`${t('details')} ${p.identity}`}>
                  {t('details')}
                </button>
                {props.mayModerate && (
                  <>
                    <button
                      type="button"
                      onClick={() => props.onMute(p, !muted)}
                      aria-label={`${muted ? t('unmute') : t('mute')} ${p.identity}`}
                    >
                      {muted ? t('unmute') : t('mute')}
                    </button>
                    <button
                      type="button"
                      className="danger"
                      onClick={() => props.onKick(p)}
                      aria-label={`${t('kick')} ${p.identity}`}
                    >
                      {t('kick')}
                    </button>
                    <button
                      type="button"
                      className="danger"
                      onClick={() => props.onBan(p)}
                      aria-label={t('banWho', { identity: p.identity })}
                    >
                      {t('ban')}
                    </button>
                  </>
                )}
              </div>
            </li>
          );
        })}
      </ul>
    </div>
  );
}

function MintToken({ room }: { room: string }) {
  const { t, viewer, act } = useConsole();
  const client = useClient();
  const [identity, setIdentity] = useState(viewer.mintsForAnyone ? 'test-participant' : viewer.uid);
  const [token, setToken] = useState<{ token: string; url: string; expiresAt: string } | null>(null);
  return (
    <form
      className="panel"
      aria-labelledby="mint-title"
      onSubmit={(event) => {
        event.preventDefault();
        void act(t('act_mint', { identity }), async () => {
          const data = await mutate(client, CreateToken, { room, identity, name: null });
          setToken(data.createToken);
        });
      }}
    >
      <h3 id="mint-title">{t('mint')}</h3>
      <label htmlFor="mint-identity">{t('identity')}</label>
      <input
        id="mint-identity"
        value={identity}
        readOnly={!viewer.mintsForAnyone}
        maxLength={256}
        onChange={(event) => setIdentity(event.target.value)}
      />
      {!viewer.mintsForAnyone && <p className="note">{t('mintHelpOwn')}</p>}
      <button type="submit">{t('mint_')}</button>
      {token && (
        <dl data-testid="minted">
          <dt>{t('url')}</dt>
          <dd>{token.url}</dd>
          <dt>{t('token')}</dt>
          <dd>
            <textarea readOnly aria-label={t('token')} rows={3} value={token.token} />
          </dd>
          <dt>{t('expires')}</dt>
          <dd>{new Date(token.expiresAt).toLocaleString()}</dd>
        </dl>
      )}
    </form>
  );
}

function Feed({ entries }: { entries: ReturnType<typeof emptyRoom>['feed'] }) {
  const { t } = useConsole();
  return (
    <section className="panel feed" aria-labelledby="feed-title">
      <h3 id="feed-title">{t('feed')}</h3>
      {entries.length === 0 ? (
        <p>{t('noEvents')}</p>
      ) : (
        // Scrolls on its own once long: focusable, so a keyboard can scroll it.
        <ol data-testid="feed" tabIndex={0} aria-labelledby="feed-title">
          {entries.map((entry) => (
            <li key={entry.key}>
              <time>{new Date(entry.at).toLocaleTimeString()}</time> <strong>{entry.kind}</strong>{' '}
              {entry.identity ?? ''} {entry.track ?? ''} {entry.reason ? `(${entry.reason})` : ''}{' '}
              {entry.actor ? t('by', { actor: entry.actor }) : ''}
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
