import { describe, expect, it } from 'vitest';
import type { RoomEvent } from './operations';
import { applyEvent, emptyRoom, FEED_LIMIT, type Participant } from './roomState';

const person = (identity: string, sid = `PA_${identity}`, version = 1, muted = false): Participant => ({
  id: sid,
  sid,
  identity,
  name: identity,
  state: 'ACTIVE',
  kind: 'STANDARD',
  metadata: '',
  attributes: {},
  joinedAtMs: 1,
  version,
  isPublisher: true,
  permission: null,
  tracks: [
    {
      sid: `TR_${identity}`,
      type: 'AUDIO',
      source: 'MICROPHONE',
      name: '',
      muted,
      simulcast: false,
      width: 0,
      height: 0,
      mimeType: 'audio/opus',
    },
  ],
});

const event = (kind: RoomEvent['kind'], sequence: number, participant: Participant | null, participants: Participant[] = []) =>
  ({
    __typename: 'RoomEvent',
    kind,
    room: 'r',
    sequence,
    at: '2026-12-01T00:00:00Z',
    source: 'API',
    actor: null,
    participant,
    track: null,
    participants,
    reason: null,
    until: null,
  }) as RoomEvent;

describe('applyEvent', () => {
  it('starts from a snapshot and follows joins, updates and leaves', () => {
    let state = applyEvent(emptyRoom(), event('SNAPSHOT', 3, null, [person('a')]));
    state = applyEvent(state, event('PARTICIPANT_JOINED', 4, person('b')));
    state = applyEvent(state, event('TRACK_MUTED', 5, person('a', 'PA_a', 2, true)));
    state = applyEvent(state, event('PARTICIPANT_LEFT', 6, person('b')));
    expect([...state.participants.keys()]).toEqual(['a']);
    expect(state.participants.get('a')!.tracks[0].muted).toBe(true);
    expect(state.feed.map((entry) => entry.kind)).toEqual(['PARTICIPANT_LEFT', 'TRACK_MUTED', 'PARTICIPANT_JOINED', 'SNAPSHOT']);
  });

  it('drops an event whose sequence it has passed', () => {
    let state = applyEvent(emptyRoom(), event('SNAPSHOT', 10, null, []));
    state = applyEvent(state, event('PARTICIPANT_JOINED', 9, person('late')));
    expect(state.participants.size).toBe(0);
    expect(state.feed).toHaveLength(1);
  });

  it('replaces everything on a resync snapshot, whatever its sequence', () => {
    let state = applyEvent(emptyRoom(), event('SNAPSHOT', 1, null, [person('a'), person('b')]));
    state = applyEvent(state, event('PARTICIPANT_JOINED', 50, person('c')));
    state = applyEvent(state, event('SNAPSHOT', 40, null, [person('c')]));
    expect([...state.participants.keys()]).toEqual(['c']);
    expect(state.snapshots).toBe(2);
  });

  it('keeps a newer version over an older one, but takes a rejoined participant', () => {
    let state = applyEvent(emptyRoom(), event('SNAPSHOT', 1, null, [person('a', 'PA_1', 5, true)]));
    state = applyEvent(state, event('PARTICIPANT_UPDATED', 2, person('a', 'PA_1', 4, false)));
    expect(state.participants.get('a')!.tracks[0].muted).toBe(true);
    state = applyEvent(state, event('PARTICIPANT_JOINED', 3, person('a', 'PA_2', 1, false)));
    expect(state.participants.get('a')!.sid).toBe('PA_2');
  });

  it("folds the event's track into a participant whose report predates it", () => {
    const bare = { ...person('a'), tracks: [] };
    let state = applyEvent(emptyRoom(), event('SNAPSHOT', 1, null, [bare]));
    const track = person('a').tracks[0];
    state = applyEvent(state, { ...event('TRACK_PUBLISHED', 2, bare), track });
    expect(state.participants.get('a')!.tracks.map((t) => t.sid)).toEqual([track.sid]);
    state = applyEvent(state, { ...event('TRACK_MUTED', 3, bare), track: { ...track, muted: false } });
    expect(state.participants.get('a')!.tracks[0].muted).toBe(true);
    state = applyEvent(state, { ...event('TRACK_UNPUBLISHED', 4, bare), track });
    expect(state.participants.get('a')!.tracks).toEqual([]);
  });

  it('empties a finished room and bounds the feed', () => {
    let state = applyEvent(emptyRoom(), event('SNAPSHOT', 0, null, [person('a')]));
    for (let i = 1; i <= FEED_LIMIT + 20; i++) state = applyEvent(state, event('PARTICIPANT_UPDATED', i, person('a', 'PA_a', i)));
    expect(state.feed).toHaveLength(FEED_LIMIT);
    state = applyEvent(state, event('ROOM_FINISHED', FEED_LIMIT + 21, null));
    expect(state.closed).toBe(true);
    expect(state.participants.size).toBe(0);
  });
});

describe('moderation events', () => {
  const named = (identity: string) => ({ ...person(identity, ''), tracks: [] }); // a ban names the identity only

  it('drops a banned or refused participant, and never adds the bare participant a ban event names', () => {
    let state = applyEvent(emptyRoom(), event('SNAPSHOT', 1, null, [person('a'), person('b')]));
    state = applyEvent(state, { ...event('PARTICIPANT_BANNED', 2, named('a')), reason: 'spam' });
    expect([...state.participants.keys()]).toEqual(['b']);
    expect(state.feed[0].reason).toBe('spam');
    state = applyEvent(state, event('PARTICIPANT_UNBANNED', 3, named('a')));
    state = applyEvent(state, event('PARTICIPANT_BANNED', 4, named('nobody-here')));
    expect([...state.participants.keys()]).toEqual(['b']);
    state = applyEvent(state, { ...event('PARTICIPANT_REFUSED', 5, person('b')), reason: 'room locked' });
    expect(state.participants.size).toBe(0);
  });

  it('counts the events after which bans or the lock may differ, and every change for the audit trail', () => {
    let state = applyEvent(emptyRoom(), event('SNAPSHOT', 1, null, [person('a')]));
    expect([state.moderation, state.changes]).toEqual([1, 0]);
    state = applyEvent(state, event('ROOM_LOCKED', 2, null));
    state = applyEvent(state, event('TRACK_MUTED', 3, person('a', 'PA_a', 2, true)));
    state = applyEvent(state, event('ROOM_UNLOCKED', 4, null));
    expect([state.moderation, state.changes]).toEqual([3, 3]);
    expect([...state.participants.keys()]).toEqual(['a']);
    state = applyEvent(state, event('ROOM_LOCKED', 4, null)); // a sequence already passed
    expect(state.moderation).toBe(3);
  });
});
