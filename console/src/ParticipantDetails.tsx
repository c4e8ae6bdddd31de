// One participant in full: tracks (mute or unmute each), attributes and metadata, and the edits a
// moderator may make (name, metadata, attributes; the permissions a moderator may grant).
import { useEffect, useState } from 'react';
import { useClient } from 'urql';
import { mutate } from './acts';
import { useConsole } from './context';
import { ActError } from './errors';
import { MuteParticipant, UpdateParticipantInfo, UpdateParticipantPermissions } from './operations';
import type { Participant } from './roomState';

export function parseAttributes(text: string): Record<string, string> {
  let value: unknown;
  try {
    value = JSON.parse(text || '{}');
  } catch {
    throw new ActError('json', '');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ActError('json', '');
  for (const item of Object.values(value)) if (typeof item !== 'string') throw new ActError('json', '');
  return value as Record<string, string>;
}

export function ParticipantDetails({
  room,
  participant,
  mayModerate,
}: {
  room: string;
  participant: Participant;
  mayModerate: boolean;
}) {
  const { t, act } = useConsole();
  const client = useClient();
  const identity = participant.identity;
  const [name, setName] = useState(participant.name);
  const [metadata, setMetadata] = useState(participant.metadata);
  const [attributes, setAttributes] = useState(JSON.stringify(participant.attributes, null, 1));
  const [permission, setPermission] = useState({
    canPublish: participant.permission?.canPublish ?? false,
    canSubscribe: participant.permission?.canSubscribe ?? false,
    canPublishData: participant.permission?.canPublishData ?? false,
  });
  // Another participant chosen: start its forms from what it is now.
  useEffect(() => {
    setName(participant.name);
    setMetadata(participant.metadata);
    setAttributes(JSON.stringify(participant.attributes, null, 1));
    setPermission({
      canPublish: participant.permission?.canPublish ?? false,
      canSubscribe: participant.permission?.canSubscribe ?? false,
      canPublishData: participant.permission?.canPublishData ?? false,
    });
  }, [participant.sid]);

  return (
    <section className="panel" aria-labelledby="details-title" data-testid="details">
      <h3 id="details-title">
        {t('details')}: {identity}
      </h3>
      <h4>{t('tracks')}</h4>
      {participant.tracks.length === 0 ? (
        <p>{t('noTracks')}</p>
      ) : (
        <ul>
          {participant.tracks.map((track) => (
            <li key={track.sid}>
              {track.source} {track.type} {track.muted ? t('muted') : t('live')}
              {track.simulcast ? ` · ${t('simulcast')}` : ''}
              {track.width ? ` · ${track.width}×${track.height}` : ''}
              {mayModerate && (
                <button
                  type="button"
                  onClick={() =>
                    void act(t(track.muted ? 'act_unmute' : 'act_mute', { identity }), () =>
                      mutate(client, MuteParticipant, { room, identity, muted: !track.muted, trackSid: track.sid }),
                    )
                  }
                >
                  {t(track.muted ? 'unmuteTrack' : 'muteTrack', { track: track.source })}
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      <h4>{t('attributes')}</h4>
      <pre>{JSON.stringify(participant.attributes, null, 1)}</pre>
      <h4>{t('metadata')}</h4>
      <pre>{participant.metadata || '—'}</pre>
      {mayModerate && (
        <>
          <form
            onSubmit={(event) => {
              event.preventDefault();
              void act(t('act_info', { identity }), async () => {
                const parsed = parseAttributes(attributes);
                await mutate(client, UpdateParticipantInfo, {
                  room,
                  identity,
                  name: name || null,
                  metadata: metadata || null,
                  attributes: parsed,
                });
              });
            }}
          >
            <label htmlFor="edit-name">{t('name')}</label>
            <input id="edit-name" value={name} maxLength={256} onChange={(event) => setName(event.target.value)} />
            <label htmlFor="edit-metadata">{t('metadata')}</label>
            <textarea id="edit-metadata" rows={2} value={metadata} onChange={(event) => setMetadata(event.target.value)} />
            <label htmlFor="edit-attributes">{t('attributes')}</label>
            <textarea
              id="edit-attributes"
              rows={3}
              aria-describedby="attributes-help"
              value={attributes}
              onChange={(event) => setAttributes(event.target.value)}
            />
            <p id="attributes-help" className="note">
              {t('attributesHelp')}
            </p>
            <button type="submit">{t('saveInfo')}</button>
          </form>
          <form
            onSubmit={(event) => {
              event.preventDefault();
              void act(t('act_permissions', { identity }), () =>
                mutate(client, UpdateParticipantPermissions, { room, identity, permission }),
              );
            }}
          >
            <fieldset>
              <legend>{t('permissions')}</legend>
              {(['canPublish', 'canSubscribe', 'canPublishData'] as const).map((key) => (
                <label key={key}>
                  <input
                    type="checkbox"
                    checked={permission[key]}
                    onChange={(event) => setPermission({ ...permission, [key]: event.target.checked })}
                  />
                  {t(key)}
                </label>
              ))}
            </fieldset>
            <button type="submit">{t('savePermissions')}</button>
          </form>
        </>
      )}
    </section>
  );
}
