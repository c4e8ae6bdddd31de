// A room's moderation state as the console shows it: its bans (the room's own, and an admin's bans
// on every room, which also keep people out of it), its lock, and the durations a ban may be given.
// Pure, so the component tests can check what the panel shows without a browser.
import type { Translate } from './i18n';
import type { Ban } from './operations';

/** The longest reason a ban may give (the service refuses longer ones). */
export const MAX_REASON = 300;

/** The durations offered for a ban, in seconds; 0 is "until unbanned" (the service's own meaning of 0). */
export const BAN_DURATIONS = [0, 600, 3600, 86400, 604800] as const;
export type BanDuration = (typeof BAN_DURATIONS)[number];

export const durationKey = (seconds: BanDuration) =>
  (({ 0: 'dur_forever', 600: 'dur_10m', 3600: 'dur_1h', 86400: 'dur_1d', 604800: 'dur_7d' }) as const)[seconds];

/** The service's `durationSeconds` for a chosen duration: null for "until unbanned". */
export const durationSeconds = (seconds: BanDuration): number | null => (seconds === 0 ? null : seconds);

/** The bans in force in a room: its own (a moderator may lift them) and those on every room (an admin's). */
export function splitBans(bans: readonly Ban[]): { own: Ban[]; everywhere: Ban[] } {
  const byIdentity = (a: Ban, b: Ban) => (a.identity < b.identity ? -1 : a.identity > b.identity ? 1 : 0);
  return {
    own: bans.filter((ban) => ban.room !== null).sort(byIdentity),
    everywhere: bans.filter((ban) => ban.room === null).sort(byIdentity),
  };
}

/** Until when a ban lasts, in the user's words. */
export function banEnds(ban: Pick<Ban, 'expiresAt'>, t: Translate, format: (at: Date) => string): string {
  return ban.expiresAt === null ? t('untilUnbanned') : t('untilTime', { time: format(new Date(ban.expiresAt)) });
}

/** Whether the caller may lift a ban: a room's own bans for its moderators, every-room bans for admins. */
export const mayUnban = (ban: Pick<Ban, 'room'>, isAdmin: boolean) => ban.room !== null || isAdmin;
