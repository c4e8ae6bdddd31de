// Acts on the participants selected in the room's list: mute, kick, ban (reason, duration) and
// permissions, each ONE bulk mutation for the whole selection, whose answer is shown per identity.
import { useState } from 'react';
import { useClient } from 'urql';
import { mutate } from './acts';
import {
  BULK_PERMISSIONS,
  failedForEach,
  fromBulkAnswers,
  permissionChange,
  type BulkAnswer,
  type BulkPermission,
  type ItemResult,
  type PermissionChoice,
} from './bulk';
import { useConsole } from './context';
import { describeError } from './errors';
import { BAN_DURATIONS, durationKey, durationSeconds, MAX_REASON, type BanDuration } from './moderation';
import { BanParticipants, KickParticipants, MuteParticipants, UpdateParticipantsPermissions } from './operations';
import type { Participant } from './roomState';

const UNCHANGED: Record<BulkPermission, PermissionChoice> = { canPublish: 'keep', canSubscribe: 'keep', canPublishData: 'keep' };

export function BulkActs(props: {
  room: string;
  participants: Participant[];
  selected: Set<string>;
  onSelect: (selected: Set<string>) => void;
}) {
  const { room, participants, selected } = props;
  const { t } = useConsole();
  const client = useClient();
  const [results, setResults] = useState<ItemResult[] | null>(null);
  const [reason, setReason] = useState('');
  const [duration, setDuration] = useState<BanDuration>(0);
  const [choices, setChoices] = useState(UNCHANGED);
  const none = selected.size === 0;
  const change = permissionChange(choices);

  // One bulk mutation for the whole selection (in the list's order); its answer is one result per identity.
  const bulk = async (run: (identities: string[]) => Promise<readonly BulkAnswer[]>) => {
    const chosen = participants.filter((p) => selected.has(p.identity)).map((p) => p.identity);
    setResults(null); // the last act's results are not this one's
    try {
      setResults(fromBulkAnswers(await run(chosen)));
    } catch (error) {
      setResults(failedForEach(chosen, error));
    }
  };
  const mute = (identities: string[]) =>
    mutate(client, MuteParticipants, { room, identities, muted: true }).then((data) => data.muteParticipants);
  const kick = (identities: string[]) =>
    mutate(client, KickParticipants, { room, identities }).then((data) => data.kickParticipants);
  const ban = (identities: string[]) =>
    mutate(client, BanParticipants, {
      room,
      identities,
      reason: reason.trim() || null,
      durationSeconds: durationSeconds(duration),
    }).then((data) => data.banParticipants);
  const permit = (identities: string[]) =>
    mutate(client, UpdateParticipantsPermissions, { room, identities, permission: change ?? {} }).then(
      (data) => data.updateParticipantsPermissions,
    );

  return (
    <>
      <div className="toolbar" role="toolbar" aria-label={t('selected', { n: selected.size })}>
        <label>
          <input
            type="checkbox"
            checked={participants.length > 0 && selected.size === participants.length}
            onChange={(event) => props.onSelect(event.target.checked ? new Set(participants.map((p) => p.identity)) : new Set())}
          />
          {t('selectAll')}
        </label>
        <span>{t('selected', { n: selected.size })}</span>
        <button type="button" disabled={none} onClick={() => void bulk(mute)}>
          {t('bulkMute')}
        </button>
        <button type="button" disabled={none} onClick={() => void bulk(kick)}>
          {t('bulkKick')}
        </button>
      </div>
      <form
        className="inline bulk"
        aria-label={t('bulkBan')}
        onSubmit={(event) => {
          event.preventDefault();
          void bulk(ban).then(() => setReason(''));
        }}
      >
        <label htmlFor="bulk-ban-reason">{t('bulkBanReason')}</label>
        <input id="bulk-ban-reason" value={reason} maxLength={MAX_REASON} onChange={(event) => setReason(event.target.value)} />
        <label htmlFor="bulk-ban-duration">{t('bulkBanDuration')}</label>
        <select
          id="bulk-ban-duration"
          value={duration}
          onChange={(event) => setDuration(Number(event.target.value) as BanDuration)}
        >
          {BAN_DURATIONS.map((seconds) => (
            <option key={seconds} value={seconds}>
              {t(durationKey(seconds))}
            </option>
          ))}
        </select>
        <button type="submit" className="danger" disabled={none}>
          {t('bulkBan')}
        </button>
      </form>
      <form
        className="inline bulk"
        aria-labelledby="bulk-permissions-title"
        onSubmit={(event) => {
          event.preventDefault();
          void bulk(permit).then(() => setChoices(UNCHANGED));
        }}
      >
        <span id="bulk-permissions-title">{t('bulkPermissions')}</span>
        {BULK_PERMISSIONS.map((key) => (
          <span key={key}>
            <label htmlFor={`bulk-${key}`}>{t(key)}</label>
            <select
              id={`bulk-${key}`}
              value={choices[key]}
              onChange={(event) => setChoices({ ...choices, [key]: event.target.value as PermissionChoice })}
            >
              {(['keep', 'allow', 'deny'] as const).map((choice) => (
                <option key={choice} value={choice}>
                  {t(`perm_${choice}`)}
                </option>
              ))}
            </select>
          </span>
        ))}
        <button type="submit" disabled={none || change === null}>
          {t('bulkSetPermissions')}
        </button>
      </form>
      {results && (
        <ul className="results" tabIndex={0} aria-label={t('bulkResults')} data-testid="bulk-results">
          {results.map((item) => (
            <li key={item.identity} className={item.ok ? 'ok' : 'error'}>
              {item.identity}: {item.ok ? '✓' : describeError(item.error, t)}
            </li>
          ))}
        </ul>
      )}
    </>
  );
}
