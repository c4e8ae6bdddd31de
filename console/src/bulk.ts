// Acts on many participants at once, one result per participant. Until the service has bulk
// operations (issue 16), this runs the single operation for each, a few at a time; the results keep
// that shape, so a bulk mutation's per-item answer can replace the loop without touching the view.
export type ItemResult = { identity: string; ok: true } | { identity: string; ok: false; error: unknown };

export async function runBulk(
  identities: readonly string[],
  act: (identity: string) => Promise<void>,
  concurrency = 4,
): Promise<ItemResult[]> {
  const results: ItemResult[] = new Array(identities.length);
  let next = 0;
  async function worker(): Promise<void> {
    while (next < identities.length) {
      const index = next++;
      const identity = identities[index];
      try {
        await act(identity);
        results[index] = { identity, ok: true };
      } catch (error) {
        results[index] = { identity, ok: false, error };
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, identities.length) }, worker));
  return results;
}
