import { describe, expect, it } from 'vitest';
import { permissionChange } from './bulk';
import { describeError } from './errors';
import { translator } from './i18n';
import { describeMuteAll, exceptionsToSend, fromMuteAllAnswer, sourcesToKeepMuted } from './muteAll';
import type { RoomEvent, RoomMuteAll } from './operations';
import { applyEvent, emptyRoom, type Participant } from './roomState';

const person = (identity: string): Participant =>
  ({
    id: `PA_${identity}`,
    sid: `PA_${identity}`,
    identity,
    name: identity,
    state: 'ACTIVE',
    kind: 'STANDARD',
    metadata: '',
    attributes: {},
    joinedAtMs: 1,
    version: 1,
    isPublisher: false,
    permission: null,
    tracks: [],
  }) as Participant;

const event = (kind: RoomEvent['kind'], sequence: number, participants: Participant[] = [], participant: Participant | null = null) =>
  ({
    __typename: 'RoomEvent',
    kind,
    room: 'r',
    sequence,
    at: '2026-12-01T00:00:00Z',
    source: 'API',
    actor: 'mod',
    participant,
    track: null,
    participants,
    reason: null,
    until: null,
  }) as RoomEvent;

describe('mute-all from the room events', () => {
  it('asks the state again after a snapshot, ROOM_MUTED_ALL and ROOM_UNMUTED_ALL only', () => {
    let state = applyEvent(emptyRoom(), event('SNAPSHOT', 1, [person('a')]));
    expect(state.muteAll).toBe(1);
    state = applyEvent(state, event('ROOM_MUTED_ALL', 2));
    expect(state.muteAll).toBe(2);
    state = applyEvent(state, event('ROOM_LOCKED', 3));
    state = applyEvent(state, event('PARTICIPANT_JOINED', 4, [], person('b')));
    expect(state.muteAll).toBe(2);
    state = applyEvent(state, event('ROOM_UNMUTED_ALL', 5));
    expect(state.muteAll).toBe(3);
    state = applyEvent(state, event('ROOM_MUTED_ALL', 5)); // a sequence already passed
    expect(state.muteAll).toBe(3);
  });

  it('leaves the bans and lock alone, and who is in the room, on a mute-all event', () => {
    let state = applyEvent(emptyRoom(), event('SNAPSHOT', 1, [person('a')]));
    state = applyEvent(state, event('ROOM_MUTED_ALL', 2, [], person('stranger')));
    state = applyEvent(state, event('ROOM_UNMUTED_ALL', 3));
    expect(state.moderation).toBe(1);
    expect([...state.participants.keys()]).toEqual(['a']);
    expect(state.feed.map((entry) => [entry.kind, entry.actor])).toEqual([
      ['ROOM_UNMUTED_ALL', 'mod'],
      ['ROOM_MUTED_ALL', 'mod'],
      ['SNAPSHOT', 'mod'],
    ]);
  });
});

describe('the mute-all form', () => {
  it('keeps every source muted when none is chosen, else the chosen in the form order', () => {
    expect(sourcesToKeepMuted(new Set())).toEqual(['MICROPHONE', 'CAMERA', 'SCREEN_SHARE', 'SCREEN_SHARE_AUDIO']);
    expect(sourcesToKeepMuted(new Set(['SCREEN_SHARE', 'MICROPHONE'] as const))).toEqual(['MICROPHONE', 'SCREEN_SHARE']);
  });

  it('excepts only the chosen who are still in the room, sorted', () => {
    expect(exceptionsToSend(new Set(['zoe', 'gone', 'amy']), ['amy', 'bob', 'zoe'])).toEqual(['amy', 'zoe']);
    expect(exceptionsToSend(new Set(), ['amy'])).toEqual([]);
  });
});

describe("the mute-all's answer", () => {
  it('gives a result per participant with the tracks it muted, each failure in the user language', () => {
    const results = fromMuteAllAnswer({
      results: [
        { identity: 'a', ok: true, mutedTracks: 2, error: null },
        {
          identity: 'b',
          ok: false,
          mutedTracks: 0,
          error: { code: 'CONFLICT', reason: 'livekit', message: 'track gone' },
        },
      ],
    });
    expect(results.map((r) => [r.identity, r.ok, r.mutedTracks])).toEqual([
      ['a', true, 2],
      ['b', false, 0],
    ]);
    const failed = results[1];
    if (failed.ok) throw new Error('b should have failed');
    expect(describeError(failed.error, translator('zh-CN'))).toBe('LiveKit 拒绝了此更改 (track gone)');
  });

  it('says the state in a line, in the user language', () => {
    const state = {
      __typename: 'RoomMuteAll',
      room: 'r',
      mutedBy: 'mod',
      mutedAt: '2026-12-01T00:00:00Z',
      sources: ['CAMERA', 'MICROPHONE'], // as the service sorts them
      excepted: ['host', 'guest'],
      strict: true,
    } as RoomMuteAll;
    const at = (time: Date) => time.toISOString();
    expect(describeMuteAll(state, translator('en'), at)).toBe(
      'Muted all by mod since 2026-12-01T00:00:00.000Z. Kept muted: Microphone, Camera. Excepted: host, guest.' +
        ' Strict: tokens minted meanwhile cannot publish these sources.',
    );
    expect(describeMuteAll({ ...state, excepted: [], strict: false }, translator('zh-CN'), at)).toBe(
      '已由 mod 于 2026-12-01T00:00:00.000Z 全员静音。 保持静音:麦克风、摄像头。 无例外。',
    );
  });
});

describe('bulk permissions', () => {
  it('sends only the permissions that change, and nothing when none does', () => {
    expect(permissionChange({ canPublish: 'deny', canSubscribe: 'keep', canPublishData: 'allow' })).toEqual({
      canPublish: false,
      canPublishData: true,
    });
    expect(permissionChange({ canPublish: 'keep', canSubscribe: 'keep', canPublishData: 'keep' })).toBeNull();
  });
});
