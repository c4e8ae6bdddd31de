import { describe, expect, it } from 'vitest';
import { describeDetail, emptyTrail, withNewest, withOlder } from './audit';
import { ActError, describeError } from './errors';
import { translator } from './i18n';
import { BAN_DURATIONS, banEnds, durationKey, durationSeconds, mayUnban, splitBans } from './moderation';
import type { AuditEvent, Ban } from './operations';
import { pagesShown } from './Rooms';

const row = (id: number, action = 'kick'): AuditEvent => ({
  __typename: 'AuditEvent',
  id: String(id),
  at: '2026-12-01T00:00:00Z',
  actor: 'mod',
  actorRole: 'moderator',
  face: 'graphql',
  action,
  room: 'r',
  identity: 'x',
  result: 'ok',
  detail: {},
}) as AuditEvent;
const ids = (rows: AuditEvent[]) => rows.map((r) => Number(r.id));

describe('audit trail', () => {
  it('starts from the newest page, then adds older pages by cursor until the oldest', () => {
    let trail = withNewest(emptyTrail(), { rows: [row(10), row(9)], endCursor: 'c9', hasNextPage: true });
    expect(trail.older).toBe('c9');
    trail = withOlder(trail, { rows: [row(8), row(7)], endCursor: 'c7', hasNextPage: true });
    trail = withOlder(trail, { rows: [row(6)], endCursor: 'c6', hasNextPage: false });
    expect(ids(trail.rows)).toEqual([10, 9, 8, 7, 6]);
    expect(trail.older).toBeNull();
  });

  it('merges a refreshed newest page that reaches the rows shown, keeping the older ones and their cursor', () => {
    let trail = withNewest(emptyTrail(), { rows: [row(10), row(9)], endCursor: 'c9', hasNextPage: true });
    trail = withOlder(trail, { rows: [row(8), row(7)], endCursor: 'c7', hasNextPage: true });
    trail = withNewest(trail, { rows: [row(12), row(11), row(10)], endCursor: 'c10', hasNextPage: true });
    expect(ids(trail.rows)).toEqual([12, 11, 10, 9, 8, 7]);
    expect(trail.older).toBe('c7');
  });

  it('starts again from a refreshed page that leaves a gap above the rows shown', () => {
    let trail = withNewest(emptyTrail(), { rows: [row(10), row(9)], endCursor: 'c9', hasNextPage: true });
    trail = withNewest(trail, { rows: [row(40), row(39)], endCursor: 'c39', hasNextPage: true });
    expect(ids(trail.rows)).toEqual([40, 39]);
    expect(trail.older).toBe('c39');
  });

  it("says an act's parameters in a line, leaving out those not given", () => {
    expect(describeDetail({ reason: 'spam', duration_seconds: 3600, name: null, sources: [] })).toBe('reason=spam, duration_seconds=3600');
    expect(describeDetail({ remove_late_joiners: true })).toBe('remove_late_joiners=true');
    expect(describeDetail(null)).toBe('');
  });

  it('orders by the row id, not as text', () => {
    const trail = withNewest(
      withNewest(emptyTrail(), { rows: [row(9)], endCursor: null, hasNextPage: false }),
      { rows: [row(100), row(10)], endCursor: null, hasNextPage: false },
    );
    expect(ids(trail.rows)).toEqual([100, 10, 9]);
  });
});

const ban = (identity: string, room: string | null, expiresAt: string | null = null): Ban => ({
  __typename: 'Ban',
  room,
  identity,
  reason: 'spam',
  bannedBy: 'mod',
  bannedAt: '2026-12-01T00:00:00Z',
  expiresAt,
}) as Ban;

describe('bans', () => {
  it("lists the room's own bans before the bans on every room, each by identity", () => {
    const { own, everywhere } = splitBans([ban('z', 'r'), ban('g', null), ban('a', 'r')]);
    expect(own.map((b) => b.identity)).toEqual(['a', 'z']);
    expect(everywhere.map((b) => b.identity)).toEqual(['g']);
  });
  it('lets moderators lift their room bans and only admins a ban on every room', () => {
    expect(mayUnban(ban('a', 'r'), false)).toBe(true);
    expect(mayUnban(ban('a', null), false)).toBe(false);
    expect(mayUnban(ban('a', null), true)).toBe(true);
  });
  it('says until when a ban lasts, in the user language', () => {
    const en = translator('en');
    const zh = translator('zh-CN');
    expect(banEnds(ban('a', 'r'), en, () => 'never')).toBe('until unbanned');
    expect(banEnds(ban('a', 'r', '2026-12-02T00:00:00Z'), zh, (at) => at.toISOString())).toBe('直到 2026-12-02T00:00:00.000Z');
  });
  it('offers durations that the service reads as meant: none for until unbanned, else seconds', () => {
    expect(BAN_DURATIONS.map(durationSeconds)).toEqual([null, 600, 3600, 86400, 604800]);
    expect(new Set(BAN_DURATIONS.map((s) => translator('zh-CN')(durationKey(s)))).size).toBe(BAN_DURATIONS.length);
  });
});

describe('errors of the moderation acts', () => {
  it('says BANNED, ROOM_LOCKED and FORBIDDEN in the user language', () => {
    const zh = translator('zh-CN');
    const en = translator('en');
    expect(describeError(new ActError('ROOM_LOCKED', ''), en)).toBe('the room is locked: only its moderators get tokens');
    expect(describeError(new ActError('BANNED', 'x is banned from room r'), zh)).toBe('该身份已被禁止进入此房间 (x is banned from room r)');
    expect(describeError(new ActError('FORBIDDEN', ''), zh)).toBe('您无权执行此操作');
    expect(zh('failed', { act: zh('act_lock', { room: 'r' }), error: zh('err_FORBIDDEN') })).toBe('锁定房间 r失败:您无权执行此操作');
  });
});

describe('room pages', () => {
  it('shows a page only once the one before answered that more follow', () => {
    expect(pagesShown([], 1)).toBe(1);
    expect(pagesShown([], 3)).toBe(1);
    expect(pagesShown([{ hasNextPage: true, endCursor: 'a' }], 3)).toBe(2);
    expect(pagesShown([{ hasNextPage: true, endCursor: 'a' }, { hasNextPage: true, endCursor: 'b' }], 3)).toBe(3);
    // A refreshed first page that now holds every room: the second is no longer shown.
    expect(pagesShown([{ hasNextPage: false, endCursor: 'a' }, { hasNextPage: false, endCursor: null }], 2)).toBe(1);
  });
});
