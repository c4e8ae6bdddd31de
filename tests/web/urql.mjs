// urql with its normalized cache (graphcache) against /graphql: queries and mutations with
// __typename added by the client, and a mutation's answer updating a query it did not refetch.
// Prints one JSON line of findings; exits 1 when a check fails. Driven by test_web_clients.py.
//   node urql.mjs <http url> <room> <identity> <authorization>
import { Client, fetchExchange, gql } from '@urql/core';
import { cacheExchange } from '@urql/exchange-graphcache';

const [url, room, identity, authorization] = process.argv.slice(2);
const seenContentTypes = new Set();
const wire = []; // what urql sent and got: it adds __typename to every selection itself
const client = new Client({
  url,
  exchanges: [cacheExchange({}), fetchExchange],
  fetchOptions: { headers: { Authorization: authorization } },
  fetch: async (input, init) => {
    const response = await fetch(input, init);
    seenContentTypes.add(response.headers.get('content-type'));
    wire.push({ sent: String(init?.body ?? ''), got: await response.clone().text() });
    return response;
  },
  requestPolicy: 'cache-first',
  preferGetMethod: false, // the service takes no queries over GET (see the README's GraphQL section)
});

const ROOM = gql`
  query Room($room: String!) {
    room(name: $room) { id name participants { id identity attributes } }
  }
`;
const UPDATE = gql`
  mutation Update($room: String!, $identity: String!, $attributes: JSON!) {
    updateParticipantInfo(room: $room, identity: $identity, attributes: $attributes) { id identity attributes }
  }
`;

const failures = [];
const check = (ok, what) => { if (!ok) failures.push(what); };

const results = [];
const watch = client.query(ROOM, { room }).subscribe((result) => results.push(result));
const waitFor = async (predicate, what) => {
  const deadline = Date.now() + 15000;
  while (Date.now() < deadline) {
    const last = results[results.length - 1];
    if (last && predicate(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  failures.push(`timed out waiting for ${what}`);
  return results[results.length - 1];
};

const first = await waitFor((r) => r.data || r.error, 'the room query');
check(!first.error, `query error: ${first.error}`);
const roomData = first.data?.room;
check(wire[0]?.sent.includes('__typename'), `urql added __typename to the query: ${wire[0]?.sent}`);
check(wire[0]?.got.includes('"__typename":"Room"') && wire[0]?.got.includes('"__typename":"Participant"'),
  `the answer names the types: ${wire[0]?.got}`);
check(typeof roomData?.id === 'string' && roomData.id.startsWith('RM_'), `Room.id is the room sid: ${roomData?.id}`);
const before = roomData?.participants?.find((p) => p.identity === identity);
check(typeof before?.id === 'string' && before.id.startsWith('PA_'), `Participant.id is its sid: ${before?.id}`);

const mutation = await client.mutation(UPDATE, { room, identity, attributes: { hand: 'up' } }).toPromise();
check(!mutation.error, `mutation error: ${mutation.error}`);
check(wire.at(-1)?.got.includes('"__typename":"Participant"'), `the mutation's answer names its type: ${wire.at(-1)?.got}`);
const fetchesAfterMutation = wire.length;
// Normalization: the mutation's Participant (same __typename:id) updates the watched room query.
const after = await waitFor(
  (r) => r.data?.room?.participants?.find((p) => p.identity === identity)?.attributes?.hand === 'up',
  'the cached room query to show the mutation',
);
check(after?.data?.room?.participants?.find((p) => p.identity === identity)?.attributes?.hand === 'up',
  'the room query, from the cache, shows the updated attributes');
check(wire.length === fetchesAfterMutation, `the room query was not fetched again: ${wire.length - fetchesAfterMutation} fetches`);

// A request error: the GraphQL over HTTP media type and status reach urql as a CombinedError.
const invalid = await client.query(gql`{ rooms { nonexistent } }`, {}).toPromise();
check(invalid.error?.graphQLErrors?.length > 0, 'a validation error reaches urql as a GraphQL error');

watch.unsubscribe();
process.stdout.write(JSON.stringify({ failures, contentTypes: [...seenContentTypes], fetches: wire.length }) + '\n');
process.exit(failures.length ? 1 : 0);
