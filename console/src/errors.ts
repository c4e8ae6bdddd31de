// An act's failure, said in the user's language: our phrase for the error's code, then the
// service's own message (which names the parameter or the room).
import type { CombinedError } from '@urql/core';
import { hasKey, type Translate } from './i18n';

export class ActError extends Error {
  constructor(
    readonly code: string,
    readonly detail: string,
  ) {
    super(detail || code);
  }
}

export function fromCombined(error: CombinedError): ActError {
  const first = error.graphQLErrors[0];
  if (first) return new ActError(String(first.extensions?.code ?? 'other'), first.message);
  if (error.networkError) return new ActError('network', error.networkError.message);
  return new ActError('other', error.message);
}

export function describeError(error: unknown, t: Translate): string {
  if (error instanceof ActError) {
    const key = `err_${error.code}`;
    const phrase = hasKey(key) ? t(key) : t('err_other');
    return error.detail && error.detail !== error.code ? `${phrase} (${error.detail})` : phrase;
  }
  return `${t('err_other')} (${String(error)})`;
}
