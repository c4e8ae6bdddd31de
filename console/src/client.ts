// One urql client per credential: a normalized cache (graphcache keys rooms and participants on
// their `id`, LiveKit's sid), queries and mutations over HTTP POST, subscriptions over graphql-ws on
// the same origin. The socket's state feeds the reconnecting banner.
import { Client, fetchExchange, subscriptionExchange } from '@urql/core';
import { cacheExchange } from '@urql/exchange-graphcache';
import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';
import { bearer } from './credential';

export type Connection = 'connecting' | 'connected' | 'reconnecting' | 'refused';

// The service closes a socket whose credential is refused or has expired with 4403: retrying is pointless.
const REFUSED = 4403;
const refused = (event: unknown) => (event as { code?: number } | null)?.code === REFUSED;

export interface Session {
  client: Client;
  sockets: WsClient;
}

export function openSession(credential: string, onConnection: (state: Connection) => void, language: string): Session {
  const authorization = bearer(credential);
  const origin = window.location.origin;
  let everConnected = false;
  const sockets = createWsClient({
    url: origin.replace(/^http/, 'ws') + '/graphql',
    connectionParams: () => ({ Authorization: authorization }),
    lazy: true,
    keepAlive: 10_000,
    retryAttempts: Infinity,
    shouldRetry: (event) => !refused(event),
    retryWait: async (retries) => new Promise((resolve) => setTimeout(resolve, Math.min(5_000, 300 * 2 ** retries))),
    on: {
      connected: () => {
        everConnected = true;
        onConnection('connected');
      },
      closed: (event) => onConnection(refused(event) ? 'refused' : everConnected ? 'reconnecting' : 'connecting'),
    },
  });
  const client = new Client({
    url: origin + '/graphql',
    preferGetMethod: false,
    requestPolicy: 'cache-and-network',
    fetchOptions: () => ({ headers: { authorization, 'accept-language': language } }),
    exchanges: [
      cacheExchange({
        keys: {
          Track: (track) => (track.sid as string) ?? null,
          ParticipantPermission: () => null,
          JoinToken: () => null,
          Viewer: () => null,
          RoomEvent: () => null,
          Codec: () => null,
          // Values with no identity of their own: kept inside whatever holds them.
          Ban: () => null,
          RoomLock: () => null,
          RoomMuteAll: () => null,
          RoomModeration: () => null,
          MuteAllResult: () => null,
          MuteAllItem: () => null,
          BulkResult: () => null,
          ItemError: () => null,
          PageInfo: () => null,
          RoomConnection: () => null,
          RoomEdge: () => null,
          AuditEventConnection: () => null,
          AuditEventEdge: () => null,
        },
      }),
      subscriptionExchange({
        forwardSubscription(request) {
          const input = { ...request, query: request.query || '' };
          return {
            subscribe(sink) {
              const unsubscribe = sockets.subscribe(input, sink);
              return { unsubscribe };
            },
          };
        },
      }),
      fetchExchange,
    ],
  });
  return { client, sockets };
}
