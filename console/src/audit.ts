// The audit trail as the console holds it: rows newest first, and the cursor of the page older
// than the oldest row shown ("more"). Rows never change once written, so a refreshed newest page
// is merged by id; a refreshed page that does not reach the rows already shown would leave a gap,
// so the trail then starts again from that page. Pure, for the component tests.
import type { AuditEvent } from './operations';

export interface Trail {
  rows: AuditEvent[];
  /** Pass as `after` for the next older page; null when the oldest row is shown. */
  older: string | null;
}

export interface AuditPage {
  rows: AuditEvent[];
  endCursor: string | null;
  hasNextPage: boolean;
}

export const emptyTrail = (): Trail => ({ rows: [], older: null });

const order = (row: AuditEvent) => Number(row.id);

function union(a: readonly AuditEvent[], b: readonly AuditEvent[]): AuditEvent[] {
  const byId = new Map<string, AuditEvent>();
  for (const row of [...a, ...b]) byId.set(row.id, row);
  return [...byId.values()].sort((x, y) => order(y) - order(x));
}

/** The trail with the newest page, as asked again after something happened. */
export function withNewest(trail: Trail, page: AuditPage): Trail {
  const next = page.hasNextPage ? page.endCursor : null;
  if (trail.rows.length === 0 || page.rows.length === 0) return { rows: page.rows, older: next };
  const newestShown = order(trail.rows[0]);
  const reaches = !page.hasNextPage || order(page.rows[page.rows.length - 1]) <= newestShown;
  if (!reaches) return { rows: page.rows, older: next };
  return { rows: union(page.rows, trail.rows), older: trail.older };
}

/** The trail with the page older than its oldest row. */
export function withOlder(trail: Trail, page: AuditPage): Trail {
  return { rows: union(trail.rows, page.rows), older: page.hasNextPage ? page.endCursor : null };
}

/** An act's parameters in a line: those given, as key=value. */
export function describeDetail(detail: unknown): string {
  if (typeof detail !== 'object' || detail === null) return '';
  return Object.entries(detail as Record<string, unknown>)
    .filter(([, value]) => value !== null && value !== undefined && value !== '' && !(Array.isArray(value) && value.length === 0))
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(', ');
}
