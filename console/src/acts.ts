// The console's acts as promises: an operation's GraphQL error becomes an ActError (with its code).
import type { Client } from '@urql/core';
import type { TypedDocumentNode } from '@urql/core';
import { ActError, fromCombined } from './errors';

export async function mutate<Data, Variables extends Record<string, unknown>>(
  client: Client,
  document: TypedDocumentNode<Data, Variables>,
  variables: Variables,
): Promise<Data> {
  const result = await client.mutation(document, variables).toPromise();
  if (result.error) throw fromCombined(result.error);
  if (!result.data) throw new ActError('other', 'no data');
  return result.data;
}
