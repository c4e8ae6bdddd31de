// A room's moderation panel: its lock (lock, with or without removing late joiners; unlock), its
// mute-all (MuteAllPanel) and its bans (who, why, by whom, until when; unban), and the form to ban
// someone. Live: it asks again whenever the room's events say its bans or lock changed (`version`),
// never on a timer.
import { useEffect, useRef, useState } from 'react';
import { useClient, useQuery } from 'urql';
import { mutate } from './acts';
import { useConsole } from './context';
import {
  BAN_DURATIONS,
  banEnds,
  durationKey,
  durationSeconds,
  MAX_REASON,
  mayUnban,
  splitBans,
  type BanDuration,
} from './moderation';
import { BanParticipant, LockRoom, ModerationState, UnbanParticipant, UnlockRoom, type Ban } from './operations';
import { describeError, fromCombined } from './errors';
import { MuteAllPanel } from './MuteAllPanel';

const when = (at: string | Date) => new Date(at).toLocaleString();

export interface BanRequest {
  identity: string;
  asked: number; // a new number for every request, so asking twice for one identity focuses again
}

/** What the mute-all part needs of the room page: its events' count, who is in the room, who is selected. */
export interface MuteAllProps {
  version: number;
  present: readonly string[];
  selected: ReadonlySet<string>;
}

export function ModerationPanel(props: { room: string; version: number; request: BanRequest | null; muteAll: MuteAllProps }) {
  const { room, version, request } = props;
  const { t, viewer, act } = useConsole();
  const client = useClient();
  const [{ data, error }, refetch] = useQuery({ query: ModerationState, variables: { room }, requestPolicy: 'network-only' });
  const [lateJoiners, setLateJoiners] = useState(true);
  const isAdmin = viewer.roles.includes('admin');

  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    refetch({ requestPolicy: 'network-only' });
  }, [version, refetch]);
  const again = () => refetch({ requestPolicy: 'network-only' });

  const lock = data?.roomLock ?? null;
  const { own, everywhere } = splitBans(data?.bans ?? []);
  const unban = (ban: Ban) =>
    void act(t('act_unban', { identity: ban.identity }), async () => {
      await mutate(client, UnbanParticipant, { room: ban.room, identity: ban.identity });
      again();
    });

  return (
    <section className="panel moderation" aria-labelledby="moderation-title" data-testid="moderation">
      <h3 id="moderation-title">{t('moderation')}</h3>
      {error && <p className="error">{describeError(fromCombined(error), t)}</p>}
      <h4>{t('lockState')}</h4>
      <div data-testid="lock">
        {lock ? (
          <>
            <p className="locked" data-testid="locked">
              🔒 {t('lockedBy', { actor: lock.lockedBy, time: when(lock.lockedAt) })}{' '}
              {lock.removeLateJoiners ? t('lockedLate') : t('lockedKeep')}
            </p>
            <button
              type="button"
              onClick={() =>
                void act(t('act_unlock', { room }), async () => {
                  await mutate(client, UnlockRoom, { room });
                  again();
                })
              }
            >
              {t('unlockRoom')}
            </button>
          </>
        ) : (
          data && (
            <form
              onSubmit={(event) => {
                event.preventDefault();
                void act(t('act_lock', { room }), async () => {
                  await mutate(client, LockRoom, { room, removeLateJoiners: lateJoiners });
                  again();
                });
              }}
            >
              <p data-testid="unlocked">{t('notLocked')}</p>
              <label>
                <input type="checkbox" checked={lateJoiners} onChange={(event) => setLateJoiners(event.target.checked)} />{' '}
                {t('removeLateJoiners')}
              </label>
              <button type="submit">{t('lockRoom')}</button>
            </form>
          )
        )}
      </div>
      <MuteAllPanel room={room} {...props.muteAll} />
      <h4>{t('bans')}</h4>
      {own.length + everywhere.length === 0 ? (
        <p>{t('noBans')}</p>
      ) : (
        <ul className="bans" data-testid="bans">
          {[...own, ...everywhere].map((ban) => (
            <li key={`${ban.room ?? ''}/${ban.identity}`} data-banned={ban.identity}>
              <strong>{ban.identity}</strong>
              {ban.room === null && ` (${t('banEveryRoom')})`}
              {ban.reason && <>: {ban.reason}</>}{' '}
              <span className="note">
                {t('bannedBy', { actor: ban.bannedBy })}, {banEnds(ban, t, when)}
              </span>
              {mayUnban(ban, isAdmin) && (
                <button type="button" onClick={() => unban(ban)} aria-label={t('unbanWho', { identity: ban.identity })}>
                  {t('unban')}
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      <BanForm room={room} request={request} onBanned={again} />
    </section>
  );
}

function BanForm({ room, request, onBanned }: { room: string; request: BanRequest | null; onBanned: () => void }) {
  const { t, act } = useConsole();
  const client = useClient();
  const [identity, setIdentity] = useState('');
  const [reason, setReason] = useState('');
  const [duration, setDuration] = useState<BanDuration>(0);
  const reasonField = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (!request) return;
    setIdentity(request.identity);
    reasonField.current?.focus();
  }, [request]);

  return (
    <form
      aria-labelledby="ban-title"
      onSubmit={(event) => {
        event.preventDefault();
        const who = identity.trim();
        if (!who) return;
        void act(t('act_ban', { identity: who }), async () => {
          await mutate(client, BanParticipant, {
            room,
            identity: who,
            reason: reason.trim() || null,
            durationSeconds: durationSeconds(duration),
          });
          setReason('');
          onBanned();
        });
      }}
    >
      <h4 id="ban-title">{t('banTitle')}</h4>
      <label htmlFor="ban-identity">{t('banIdentity')}</label>
      <input id="ban-identity" value={identity} maxLength={256} required onChange={(event) => setIdentity(event.target.value)} />
      <label htmlFor="ban-reason">{t('reason')}</label>
      <input
        id="ban-reason"
        ref={reasonField}
        value={reason}
        maxLength={MAX_REASON}
        onChange={(event) => setReason(event.target.value)}
      />
      <label htmlFor="ban-duration">{t('duration')}</label>
      <select id="ban-duration" value={duration} onChange={(event) => setDuration(Number(event.target.value) as BanDuration)}>
        {BAN_DURATIONS.map((seconds) => (
          <option key={seconds} value={seconds}>
            {t(durationKey(seconds))}
          </option>
        ))}
      </select>{' '}
      <button type="submit" className="danger">
        {t('ban')}
      </button>
    </form>
  );
}
