// The room list follows room events: an admin follows every room (one subscription), a moderator
// each of its rooms. An event means the list may have changed; the listing is asked again,
// coalesced, from the service's overview (which every event has already refreshed). No timer asks
// on its own: without events, nothing is fetched.
export function coalesce(run: () => void, waitMs: number): { poke: () => void; cancel: () => void } {
  let timer: ReturnType<typeof setTimeout> | null = null;
  return {
    poke() {
      if (timer === null) {
        timer = setTimeout(() => {
          timer = null;
          run();
        }, waitMs);
      }
    },
    cancel() {
      if (timer !== null) clearTimeout(timer);
      timer = null;
    },
  };
}

/** Which rooms to subscribe to: null (every room) for a caller who reads every room. */
export function followed(readableRooms: readonly string[] | null, limit: number): (string | null)[] {
  return readableRooms === null ? [null] : readableRooms.slice(0, limit);
}
