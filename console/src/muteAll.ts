// A room's mute-all as the console asks and shows it: the sources to keep muted (none chosen: every
// source), the exceptions (only people in the room now), the state in the user's words, and the
// act's answer as one result per participant. Pure, so the component tests check it without a browser.
import { fromBulkAnswers, type ItemResult } from './bulk';
import type { Translate } from './i18n';
import type { MuteAllAnswer, RoomMuteAll } from './operations';

/** A source one publishes (UNKNOWN is none). */
export type TrackSource = Exclude<RoomMuteAll['sources'][number], 'UNKNOWN'>;

/** The sources a mute-all may keep muted, in the order the form offers them. */
export const MUTE_ALL_SOURCES: readonly TrackSource[] = ['MICROPHONE', 'CAMERA', 'SCREEN_SHARE', 'SCREEN_SHARE_AUDIO'];

/** The `sources` to send: those chosen, or every source when none is (the form's "none = all"). */
export function sourcesToKeepMuted(chosen: ReadonlySet<TrackSource>): TrackSource[] {
  const picked = MUTE_ALL_SOURCES.filter((source) => chosen.has(source));
  return picked.length > 0 ? picked : [...MUTE_ALL_SOURCES];
}

/** The `except` to send: the chosen identities still in the room, sorted; someone who left meanwhile is not excepted. */
export function exceptionsToSend(chosen: ReadonlySet<string>, present: readonly string[]): string[] {
  return present.filter((identity) => chosen.has(identity)).sort();
}

export type MuteAllOutcome = ItemResult & { mutedTracks: number };

/** The act's answer: one result per participant it concerned, each failure said like any act's. */
export function fromMuteAllAnswer(answer: Pick<MuteAllAnswer, 'results'>): MuteAllOutcome[] {
  return answer.results.map((item) => ({ ...fromBulkAnswers([item])[0], mutedTracks: item.mutedTracks }));
}

/** The sources, in the user's words and in the form's order. */
export function sourceNames(sources: readonly string[], t: Translate): string {
  return MUTE_ALL_SOURCES.filter((source) => sources.includes(source))
    .map((source) => t(`src_${source}`))
    .join(t('listSeparator'));
}

/** The room's mute-all in a line: who, since when, which sources, who is excepted, whether strict. */
export function describeMuteAll(state: RoomMuteAll, t: Translate, format: (at: Date) => string): string {
  const parts = [
    t('mutedAllBy', { actor: state.mutedBy, time: format(new Date(state.mutedAt)) }),
    t('mutedAllSources', { sources: sourceNames(state.sources, t) }),
    state.excepted.length > 0 ? t('mutedAllExcept', { identities: state.excepted.join(t('listSeparator')) }) : t('mutedAllNoExcept'),
  ];
  if (state.strict) parts.push(t('mutedAllStrict'));
  return parts.join(' ');
}
