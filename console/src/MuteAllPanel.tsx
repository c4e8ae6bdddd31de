// A room's mute-all, in its moderation panel: the state (who, since when, the sources kept muted,
// who is excepted, strict or not), the act (sources, exceptions from who is in the room, strict) with
// its result per participant, and its lifting. Live: it asks again whenever the room's events say its
// mute-all changed (`version`: ROOM_MUTED_ALL, ROOM_UNMUTED_ALL, a snapshot), never on a timer.
import { useEffect, useRef, useState } from 'react';
import { useClient, useQuery } from 'urql';
import { mutate } from './acts';
import { useConsole } from './context';
import { describeError, fromCombined } from './errors';
import {
  describeMuteAll,
  exceptionsToSend,
  fromMuteAllAnswer,
  MUTE_ALL_SOURCES,
  sourcesToKeepMuted,
  type MuteAllOutcome,
  type TrackSource,
} from './muteAll';
import { MuteAll, MuteAllState, UnmuteAll } from './operations';

const when = (at: Date) => at.toLocaleString();

export function MuteAllPanel(props: { room: string; version: number; present: readonly string[]; selected: ReadonlySet<string> }) {
  const { room, version, present } = props;
  const { t, act } = useConsole();
  const client = useClient();
  const [{ data, error }, refetch] = useQuery({ query: MuteAllState, variables: { room }, requestPolicy: 'network-only' });
  const [sources, setSources] = useState<ReadonlySet<TrackSource>>(new Set());
  const [excepted, setExcepted] = useState<ReadonlySet<string>>(new Set());
  const [strict, setStrict] = useState(false);
  const [results, setResults] = useState<MuteAllOutcome[] | null>(null);

  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    refetch({ requestPolicy: 'network-only' });
  }, [version, refetch]);
  const again = () => refetch({ requestPolicy: 'network-only' });

  const state = data?.roomModeration.muteAll ?? null;
  const toggle = (source: TrackSource, on: boolean) =>
    setSources((all) => {
      const next = new Set(all);
      if (on) next.add(source);
      else next.delete(source);
      return next;
    });

  return (
    <div className="mute-all" data-testid="mute-all">
      <h4 id="mute-all-title">{t('muteAll')}</h4>
      {error && <p className="error">{describeError(fromCombined(error), t)}</p>}
      <div data-testid="mute-all-state">
        {state ? (
          <>
            <p className="locked" data-testid="muted-all">
              🔇 {describeMuteAll(state, t, when)}
            </p>
            <p className="note" id="unmute-all-help">
              {t('unmuteAllHelp')}
            </p>
            <button
              type="button"
              aria-describedby="unmute-all-help"
              onClick={() =>
                void act(t('act_unmuteAll', { room }), async () => {
                  await mutate(client, UnmuteAll, { room });
                  again();
                })
              }
            >
              {t('unmuteAll')}
            </button>
          </>
        ) : (
          data && <p data-testid="not-muted-all">{t('notMutedAll')}</p>
        )}
      </div>
      <form
        aria-labelledby="mute-all-title"
        onSubmit={(event) => {
          event.preventDefault();
          void act(t('act_muteAll', { room }), async () => {
            const data = await mutate(client, MuteAll, {
              room,
              except: exceptionsToSend(excepted, present),
              sources: sourcesToKeepMuted(sources),
              strict,
            });
            setResults(fromMuteAllAnswer(data.muteAll));
            again();
          });
        }}
      >
        <fieldset>
          <legend>{t('muteAllSources')}</legend>
          {MUTE_ALL_SOURCES.map((source) => (
            <label key={source}>
              <input type="checkbox" checked={sources.has(source)} onChange={(event) => toggle(source, event.target.checked)} />
              {t(`src_${source}`)}
            </label>
          ))}
        </fieldset>
        <label htmlFor="mute-all-except">{t('muteAllExceptions')}</label>
        <select
          id="mute-all-except"
          multiple
          size={Math.min(5, Math.max(2, present.length))}
          aria-describedby="mute-all-except-help"
          value={present.filter((identity) => excepted.has(identity))}
          onChange={(event) => setExcepted(new Set([...event.target.selectedOptions].map((option) => option.value)))}
        >
          {present.map((identity) => (
            <option key={identity} value={identity}>
              {identity}
            </option>
          ))}
        </select>
        <p className="note" id="mute-all-except-help">
          {t('muteAllExceptHelp')}
        </p>
        <button type="button" disabled={props.selected.size === 0} onClick={() => setExcepted(new Set(props.selected))}>
          {t('useSelected')}
        </button>
        <label>
          <input type="checkbox" checked={strict} onChange={(event) => setStrict(event.target.checked)} /> {t('muteAllStrictLabel')}
        </label>
        <button type="submit" className="danger">
          {t('muteAll')}
        </button>
      </form>
      {results && (
        <ul className="results" tabIndex={0} aria-label={t('muteAllResults')} data-testid="mute-all-results">
          {results.map((item) => (
            <li key={item.identity} className={item.ok ? 'ok' : 'error'}>
              {item.identity}: {item.ok ? `✓ ${t('mutedTracks', { n: item.mutedTracks })}` : describeError(item.error, t)}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
