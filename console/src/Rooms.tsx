// The rooms the caller may see, a page at a time (`roomsConnection`, by name, narrowed by a name
// prefix), with who is in each, kept current by room events: an event asks every page shown again.
// Each page starts after the previous page's current end, so a room created or closed in an
// earlier page shifts the later ones rather than leaving a gap or a duplicate.
import { useCallback, useEffect, useMemo, useState } from 'react';
import { useClient, useQuery } from 'urql';
import { mutate } from './acts';
import { useConsole } from './context';
import { describeError, fromCombined } from './errors';
import { coalesce, followed } from './liveRooms';
import { CreateRoom, RoomEvents, RoomsPageQuery } from './operations';

// The service allows 10 subscriptions per socket; the room page needs one of them.
const MAX_FOLLOWED = 8;
export const ROOMS_PAGE = 20;

export interface PageEnd {
  endCursor: string | null;
  hasNextPage: boolean;
  shown: number;
  total: number;
}

/** How many of the `pages` asked for to show: each after the first needs the one before to have answered with more. */
export function pagesShown(ends: readonly (Pick<PageEnd, 'hasNextPage' | 'endCursor'> | undefined)[], pages: number): number {
  let shown = 1;
  while (shown < pages && ends[shown - 1]?.hasNextPage && ends[shown - 1]?.endCursor) shown++;
  return shown;
}

export function RoomsPage({ onOpen }: { onOpen: (room: string) => void }) {
  const { t, viewer, act } = useConsole();
  const client = useClient();
  const [name, setName] = useState(viewer.moderatedRooms?.[0] ?? '');
  const [prefix, setPrefix] = useState('');
  const [pages, setPages] = useState(1);
  const [ends, setEnds] = useState<(PageEnd | undefined)[]>([]);
  const [refresh, setRefresh] = useState(0);

  const follow = useMemo(() => followed(viewer.readableRooms, MAX_FOLLOWED), [viewer.readableRooms]);
  useEffect(() => {
    const again = coalesce(() => setRefresh((n) => n + 1), 150);
    const subscriptions = follow.map((room) =>
      client.subscription(RoomEvents, { room }).subscribe((result) => {
        if (result.data && result.data.roomEvents.kind !== 'SNAPSHOT') again.poke();
      }),
    );
    return () => {
      again.cancel();
      subscriptions.forEach((subscription) => subscription.unsubscribe());
    };
  }, [client, follow]);

  const onEnd = useCallback((index: number, end: PageEnd) => {
    setEnds((all) => {
      const next = all.slice();
      next[index] = end;
      return next;
    });
  }, []);
  const filterBy = (value: string) => {
    setPrefix(value);
    setPages(1);
    setEnds([]);
  };

  const chain = pagesShown(ends, pages);
  const last = ends[chain - 1];
  const shown = ends.slice(0, chain).reduce((sum, end) => sum + (end?.shown ?? 0), 0);
  const total = ends[0]?.total;
  const creatable = viewer.moderatedRooms; // null: any name
  return (
    <section aria-labelledby="rooms-title">
      <h2 id="rooms-title">{t('rooms')}</h2>
      {(creatable === null || creatable.length > 0) && (
        <form
          className="inline"
          onSubmit={(event) => {
            event.preventDefault();
            const room = name.trim();
            if (!room) return;
            void act(t('act_createRoom', { room }), async () => {
              await mutate(client, CreateRoom, { name: room });
              setRefresh((n) => n + 1);
            });
          }}
        >
          <label htmlFor="new-room">{t('roomName')}</label>
          {creatable === null ? (
            <input id="new-room" value={name} maxLength={256} onChange={(event) => setName(event.target.value)} />
          ) : (
            <select id="new-room" value={name} onChange={(event) => setName(event.target.value)}>
              {creatable.map((room) => (
                <option key={room}>{room}</option>
              ))}
            </select>
          )}
          <button type="submit">{t('createRoom')}</button>
        </form>
      )}
      <form className="inline" role="search" onSubmit={(event) => event.preventDefault()}>
        <label htmlFor="rooms-filter">{t('roomsFilter')}</label>
        <input
          id="rooms-filter"
          type="search"
          value={prefix}
          maxLength={256}
          onChange={(event) => filterBy(event.target.value)}
        />
        {total !== undefined && (
          <span data-testid="rooms-shown">{t('roomsShown', { shown, n: total })}</span>
        )}
      </form>
      {/* Always mounted: the pages are what asks again, even while no room is open. */}
      {total === 0 && <p>{t('noRooms')}</p>}
      <ul className="rooms" data-testid="rooms">
        {Array.from({ length: chain }, (_, index) => {
          const after = index === 0 ? null : (ends[index - 1]?.endCursor ?? null);
          return (
            <RoomsChunk
              key={index}
              index={index}
              after={after}
              prefix={prefix}
              refresh={refresh}
              onEnd={onEnd}
              onOpen={onOpen}
            />
          );
        })}
      </ul>
      {chain === pages && last?.hasNextPage && (
        <button type="button" onClick={() => setPages((n) => n + 1)}>
          {t('moreRooms')}
        </button>
      )}
    </section>
  );
}

function RoomsChunk(props: {
  index: number;
  after: string | null;
  prefix: string;
  refresh: number;
  onEnd: (index: number, end: PageEnd) => void;
  onOpen: (room: string) => void;
}) {
  const { t } = useConsole();
  const { index, after, prefix, refresh, onEnd, onOpen } = props;
  const variables = { first: ROOMS_PAGE, after, prefix: prefix || null };
  const [{ data, error }, refetch] = useQuery({ query: RoomsPageQuery, variables, requestPolicy: 'cache-and-network' });
  useEffect(() => {
    if (refresh > 0) refetch({ requestPolicy: 'network-only' });
  }, [refresh, refetch]);
  const page = data?.roomsConnection;
  useEffect(() => {
    if (!page) return;
    onEnd(index, {
      endCursor: page.pageInfo.endCursor ?? null,
      hasNextPage: page.pageInfo.hasNextPage,
      shown: page.edges.length,
      total: page.totalCount,
    });
  }, [page, index, onEnd]);
  if (error) {
    return (
      <li className="error" role="alert">
        {describeError(fromCombined(error), t)}
      </li>
    );
  }
  return (
    <>
      {(page?.edges ?? []).map(({ node: room }) => (
        <li key={room.id} data-room={room.name}>
          <span className="room-name">{room.name}</span>
          <span className="count" data-testid="count">
            {t('participantsCount', { n: room.participants.length })}
          </span>
          <button type="button" onClick={() => onOpen(room.name)} aria-label={`${t('open')} ${room.name}`}>
            {t('open')}
          </button>
        </li>
      ))}
    </>
  );
}
