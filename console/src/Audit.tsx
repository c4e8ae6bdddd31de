// The audit trail: a room's (for its moderators) or the whole one (for admins), newest first, with
// older entries a page at a time by cursor. It asks for the newest page again when the room's events
// say something happened (`changes`), never on a timer; the whole trail follows every room's events.
import { useCallback, useEffect, useRef, useState } from 'react';
import { useClient } from 'urql';
import { describeDetail, emptyTrail, withNewest, withOlder, type AuditPage, type Trail } from './audit';
import { useConsole } from './context';
import { describeError, fromCombined } from './errors';
import { coalesce } from './liveRooms';
import { AuditLog, RoomEvents } from './operations';

const PAGE = 50;

export function AuditTrail({ room, changes }: { room: string | null; changes: number }) {
  const { t } = useConsole();
  const client = useClient();
  const [trail, setTrail] = useState<Trail>(emptyTrail);
  const [error, setError] = useState<string | null>(null);
  const [loaded, setLoaded] = useState(false);

  const load = useCallback(
    async (after: string | null): Promise<AuditPage | null> => {
      const result = await client.query(AuditLog, { room, first: PAGE, after }, { requestPolicy: 'network-only' }).toPromise();
      if (result.error) {
        setError(describeError(fromCombined(result.error), t));
        return null;
      }
      setError(null);
      const page = result.data!.auditLog;
      return { rows: page.edges.map((edge) => edge.node), endCursor: page.pageInfo.endCursor ?? null, hasNextPage: page.pageInfo.hasNextPage };
    },
    [client, room, t],
  );

  // Coalesced: a burst of events (a bulk kick) asks once.
  const refresh = useRef<ReturnType<typeof coalesce> | null>(null);
  useEffect(() => {
    let current = true;
    const newest = async () => {
      const page = await load(null);
      if (current && page) setTrail((shown) => withNewest(shown, page));
      if (current) setLoaded(true);
    };
    refresh.current = coalesce(() => void newest(), 150);
    void newest();
    return () => {
      current = false;
      refresh.current?.cancel();
    };
  }, [load]);
  useEffect(() => {
    if (changes > 0) refresh.current?.poke();
  }, [changes]);

  const more = async () => {
    if (!trail.older) return;
    const page = await load(trail.older);
    if (page) setTrail((shown) => withOlder(shown, page));
  };

  const title = room === null ? t('auditAll') : t('auditOf', { room });
  return (
    <section className="panel audit" aria-labelledby="audit-title">
      <h3 id="audit-title">{title}</h3>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {loaded && trail.rows.length === 0 ? (
        <p>{t('noAudit')}</p>
      ) : (
        <div className="table" tabIndex={0} role="region" aria-labelledby="audit-title">
          <table data-testid="audit">
            <thead>
              <tr>
                <th scope="col">{t('col_at')}</th>
                <th scope="col">{t('col_actor')}</th>
                <th scope="col">{t('col_action')}</th>
                {room === null && <th scope="col">{t('col_room')}</th>}
                <th scope="col">{t('col_identity')}</th>
                <th scope="col">{t('col_detail')}</th>
                <th scope="col">{t('col_result')}</th>
              </tr>
            </thead>
            <tbody>
              {trail.rows.map((row) => (
                <tr key={row.id} data-action={row.action} data-identity={row.identity ?? ''}>
                  <td>
                    <time dateTime={row.at}>{new Date(row.at).toLocaleString()}</time>
                  </td>
                  <td>
                    {row.actor} <span className="note">({row.actorRole})</span>
                  </td>
                  <td>{row.action}</td>
                  {room === null && <td>{row.room ?? ''}</td>}
                  <td>{row.identity ?? ''}</td>
                  <td className="detail">{describeDetail(row.detail)}</td>
                  <td className={row.result === 'ok' ? 'ok' : 'error'}>{row.result === 'ok' ? t('resultOk') : row.result}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {trail.older && (
        <button type="button" onClick={() => void more()}>
          {t('auditMore')}
        </button>
      )}
    </section>
  );
}

/** The whole trail (admins), following every room's events. */
export function WholeAuditPage({ onBack }: { onBack: () => void }) {
  const { t } = useConsole();
  const client = useClient();
  const [changes, setChanges] = useState(0);
  useEffect(() => {
    const subscription = client.subscription(RoomEvents, { room: null }).subscribe((result) => {
      if (result.data && result.data.roomEvents.kind !== 'SNAPSHOT') setChanges((n) => n + 1);
    });
    return () => subscription.unsubscribe();
  }, [client]);
  return (
    <section aria-labelledby="whole-audit-title">
      <div className="room-head">
        <button type="button" onClick={onBack}>
          ← {t('back')}
        </button>
        <h2 id="whole-audit-title">{t('auditAll')}</h2>
      </div>
      <AuditTrail room={null} changes={changes} />
    </section>
  );
}
