// Acts on many participants at once, one result per participant. The service's bulk mutations
// answer per identity; this turns that answer into the results the view shows, each failure an
// ActError so it is said in the user's language like any single act's.
import { ActError } from './errors';

export type ItemResult = { identity: string; ok: true } | { identity: string; ok: false; error: unknown };

export type BulkAnswer = {
  identity: string;
  ok: boolean;
  error?: { code: string; reason: string; message: string } | null;
};

export function fromBulkAnswers(answers: readonly BulkAnswer[]): ItemResult[] {
  return answers.map((answer) =>
    answer.ok
      ? { identity: answer.identity, ok: true }
      : {
          identity: answer.identity,
          ok: false,
          error: new ActError(answer.error?.code ?? 'other', answer.error?.message ?? ''),
        },
  );
}

// A whole call that failed (e.g. forbidden, network) is a failure for each identity it was for.
export function failedForEach(identities: readonly string[], error: unknown): ItemResult[] {
  return identities.map((identity) => ({ identity, ok: false, error }));
}

/** A permission as the bulk form sets it: left as each participant has it, granted, or revoked. */
export type PermissionChoice = 'keep' | 'allow' | 'deny';
export const BULK_PERMISSIONS = ['canPublish', 'canSubscribe', 'canPublishData'] as const;
export type BulkPermission = (typeof BULK_PERMISSIONS)[number];

/** The `permission` input for the bulk form's choices: only what changes (the service keeps the rest); null if nothing does. */
export function permissionChange(
  choices: Readonly<Record<BulkPermission, PermissionChoice>>,
): Partial<Record<BulkPermission, boolean>> | null {
  const change: Partial<Record<BulkPermission, boolean>> = {};
  for (const key of BULK_PERMISSIONS) if (choices[key] !== 'keep') change[key] = choices[key] === 'allow';
  return Object.keys(change).length > 0 ? change : null;
}
