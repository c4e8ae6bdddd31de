// Typed GraphQL documents: gql.tada reads schema.graphql's introspection (generated into
// graphql-env.d.ts by `npm run generate`, part of the build) and types every operation from its text.
import { initGraphQLTada } from 'gql.tada';
import type { introspection } from './graphql-env.d.ts';

export const graphql = initGraphQLTada<{
  introspection: introspection;
  disableMasking: true;
  scalars: { Int64: number; DateTime: string; JSON: Record<string, string> };
}>();

export type { FragmentOf, ResultOf, VariablesOf } from 'gql.tada';
export { readFragment } from 'gql.tada';
