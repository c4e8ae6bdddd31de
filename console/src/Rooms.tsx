// The rooms the caller may see, with who is in each, kept current by room events.
import { useEffect, useMemo, useState } from 'react';
import { useClient, useQuery } from 'urql';
import { mutate } from './acts';
import { useConsole } from './context';
import { coalesce, followed } from './liveRooms';
import { CreateRoom, RoomEvents, RoomsOverview } from './operations';

// The service allows 10 subscriptions per socket; the room page needs one of them.
const MAX_FOLLOWED = 8;

export function RoomsPage({ onOpen }: { onOpen: (room: string) => void }) {
  const { t, viewer, act } = useConsole();
  const client = useClient();
  const [{ data, error }, refetch] = useQuery({ query: RoomsOverview, requestPolicy: 'cache-and-network' });
  const [name, setName] = useState(viewer.moderatedRooms?.[0] ?? '');

  const follow = useMemo(() => followed(viewer.readableRooms, MAX_FOLLOWED), [viewer.readableRooms]);
  useEffect(() => {
    const refresh = coalesce(() => refetch({ requestPolicy: 'network-only' }), 150);
    const subscriptions = follow.map((room) =>
      client.subscription(RoomEvents, { room }).subscribe((result) => {
        if (result.data && result.data.roomEvents.kind !== 'SNAPSHOT') refresh.poke();
      }),
    );
    return () => {
      refresh.cancel();
      subscriptions.forEach((subscription) => subscription.unsubscribe());
    };
  }, [client, follow, refetch]);

  const rooms = data?.rooms ?? [];
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
              refetch({ requestPolicy: 'network-only' });
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
      {error && <p className="error">{error.message}</p>}
      {rooms.length === 0 ? (
        <p>{t('noRooms')}</p>
      ) : (
        <ul className="rooms" data-testid="rooms">
          {rooms.map((room) => (
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
        </ul>
      )}
      <p className="note">{t('notYet')}</p>
    </section>
  );
}
