// Subscribes to roomEvents with a real web client and prints each event as a JSON line:
// {"at": <unix ms when it arrived>, "event": {...}}, or {"error": ...}. Driven by
// tests/integration/test_web_clients.py.
//   node subscribe.mjs ws  <ws url>   <room> <authorization>   (graphql-ws, the reference client, on ws)
//   node subscribe.mjs sse <http url> <room> <authorization>   (graphql-sse, distinct connections mode)
import { createClient as createWsClient } from 'graphql-ws';
import { createClient as createSseClient } from 'graphql-sse';
import WebSocket from 'ws';

const [transport, url, room, authorization] = process.argv.slice(2);
const query = `subscription($room: String) {
  roomEvents(room: $room) {
    kind sequence source actor at
    participant { id identity state attributes tracks { sid source muted } }
    participants { id identity }
  }
}`;

function print(line) {
  process.stdout.write(JSON.stringify(line) + '\n');
}

let client;
if (transport === 'ws') {
  client = createWsClient({
    url,
    webSocketImpl: WebSocket,
    connectionParams: { Authorization: authorization },
    retryAttempts: 0,
    lazy: false,
    onNonLazyError: (error) => {
      print({ error: String(error?.message ?? error?.reason ?? error) });
      process.exit(1);
    },
  });
} else if (transport === 'sse') {
  client = createSseClient({ url, headers: { Authorization: authorization }, retryAttempts: 0 });
} else {
  print({ error: `unknown transport ${transport}` });
  process.exit(2);
}

client.subscribe(
  { query, variables: { room } },
  {
    next: (result) => {
      if (result.errors) print({ at: Date.now(), error: result.errors });
      else print({ at: Date.now(), event: result.data.roomEvents });
    },
    error: (error) => {
      // graphql-ws hands a non-JSON message (a binary frame) to error as a parse failure.
      print({ error: String(error?.message ?? (error?.code ? `closed ${error.code} ${error.reason}` : error)) });
      process.exit(1);
    },
    complete: () => {
      print({ complete: true });
      process.exit(0);
    },
  },
);
process.on('SIGTERM', () => process.exit(0));
