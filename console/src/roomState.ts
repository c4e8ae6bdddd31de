// A room as its event stream tells it: who is in it, and the feed of what happened. Pure, so the
// component tests can replay streams; the console never polls, it folds these events.
import type { RoomEvent } from './operations';

export type Participant = NonNullable<RoomEvent['participant']>;

export interface FeedEntry {
  key: string;
  kind: RoomEvent['kind'];
  at: string;
  identity: string | null;
  actor: string | null;
  source: RoomEvent['source'];
  track: string | null;
  reason: string | null;
}

export interface RoomState {
  participants: Map<string, Participant>; // by identity, in join order
  feed: FeedEntry[]; // newest first
  sequence: number; // the last sequence applied; later events only
  snapshots: number;
  closed: boolean;
  /** Grows with every event that may change the room's bans or lock (and with every snapshot, a resync). */
  moderation: number;
  /** Grows with every event that may change the room's mute-all (and with every snapshot, a resync). */
  muteAll: number;
  /** Grows with every event but a snapshot: something happened, so the audit trail may have grown. */
  changes: number;
}

/** The kinds after which the room's bans or lock may differ. */
export const MODERATION_KINDS: ReadonlySet<RoomEvent['kind']> = new Set([
  'SNAPSHOT',
  'PARTICIPANT_BANNED',
  'PARTICIPANT_UNBANNED',
  'ROOM_LOCKED',
  'ROOM_UNLOCKED',
]);

/** The kinds after which the room's mute-all may differ (its own events carry no `strict`: the panel asks). */
export const MUTE_ALL_KINDS: ReadonlySet<RoomEvent['kind']> = new Set(['SNAPSHOT', 'ROOM_MUTED_ALL', 'ROOM_UNMUTED_ALL']);

export const FEED_LIMIT = 200;

export const emptyRoom = (): RoomState => ({
  participants: new Map(),
  feed: [],
  sequence: -1,
  snapshots: 0,
  closed: false,
  moderation: 0,
  muteAll: 0,
  changes: 0,
});

export function applyEvent(state: RoomState, event: RoomEvent): RoomState {
  // A SNAPSHOT restarts the count (a resync after lost events); otherwise one per-room order.
  if (event.kind !== 'SNAPSHOT' && event.sequence <= state.sequence) return state;
  let participants = state.participants;
  let closed = state.closed;
  const who = event.participant;
  switch (event.kind) {
    case 'SNAPSHOT':
      participants = new Map(event.participants.map((p) => [p.identity, p]));
      closed = false;
      break;
    case 'ROOM_FINISHED':
      participants = new Map();
      closed = true;
      break;
    case 'ROOM_STARTED':
      closed = false;
      break;
    case 'ROOM_LOCKED':
    case 'ROOM_UNLOCKED':
    case 'ROOM_MUTED_ALL':
    case 'ROOM_UNMUTED_ALL':
    case 'PARTICIPANT_UNBANNED':
      // About the room's rules, not about who is in it; the participant (if any) is only a name.
      break;
    case 'PARTICIPANT_BANNED':
    case 'PARTICIPANT_REFUSED':
    // The service removes a banned or refused participant; its report names it by identity only.
    case 'PARTICIPANT_LEFT':
      if (who && participants.has(who.identity)) {
        participants = new Map(participants);
        participants.delete(who.identity);
      }
      break;
    default:
      if (who) {
        const known = participants.get(who.identity);
        // A participant who rejoined is a new one (new sid); an older version never overwrites a newer one.
        let next = !known || known.sid !== who.sid || known.version <= who.version ? who : known;
        if (event.track) next = withTrack(next, event.kind, event.track);
        if (next !== known) {
          participants = new Map(participants);
          participants.set(who.identity, next);
        }
      }
  }
  const entry: FeedEntry = {
    key: `${event.sequence}:${event.kind}:${who?.sid ?? ''}:${state.snapshots}`,
    kind: event.kind,
    at: event.at,
    identity: who?.identity ?? null,
    actor: event.actor ?? null,
    source: event.source,
    track: event.track ? `${event.track.source} ${event.track.sid}` : null,
    reason: event.reason ?? null,
  };
  return {
    participants,
    closed,
    feed: [entry, ...state.feed].slice(0, FEED_LIMIT),
    sequence: event.sequence,
    snapshots: state.snapshots + (event.kind === 'SNAPSHOT' ? 1 : 0),
    moderation: state.moderation + (MODERATION_KINDS.has(event.kind) ? 1 : 0),
    muteAll: state.muteAll + (MUTE_ALL_KINDS.has(event.kind) ? 1 : 0),
    changes: state.changes + (event.kind === 'SNAPSHOT' ? 0 : 1),
  };
}

type Track = Participant['tracks'][number];

/** The participant with the event's track folded in: a webhook's participant may predate its own track's change. */
function withTrack(participant: Participant, kind: RoomEvent['kind'], track: Track): Participant {
  const others = participant.tracks.filter((known) => known.sid !== track.sid);
  const known = participant.tracks.find((t) => t.sid === track.sid);
  switch (kind) {
    case 'TRACK_UNPUBLISHED':
      return known ? { ...participant, tracks: others } : participant;
    case 'TRACK_PUBLISHED':
      return known ? participant : { ...participant, tracks: [...participant.tracks, track] };
    case 'TRACK_MUTED':
    case 'TRACK_UNMUTED': {
      const muted = kind === 'TRACK_MUTED';
      const base = known ?? track;
      if (known && known.muted === muted) return participant;
      const updated = { ...base, muted };
      return { ...participant, tracks: known ? participant.tracks.map((t) => (t.sid === track.sid ? updated : t)) : [...others, updated] };
    }
    default:
      return participant;
  }
}
