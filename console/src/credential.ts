// The caller's credential: pasted in, or handed over by an identity provider's redirect in the
// URL fragment (#credential=... or #access_token=..., never sent to any server); kept in
// sessionStorage, so it dies with the tab and no cookie ever carries it.
const KEY = 'gxrtc.console.credential';

export function fromFragment(hash: string): string | null {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  return params.get('credential') || params.get('access_token') || params.get('id_token') || null;
}

export function loadCredential(storage: Storage, location: Location, history: History): string | null {
  const handed = fromFragment(location.hash);
  if (handed) {
    storage.setItem(KEY, handed);
    history.replaceState(null, '', location.pathname + location.search); // out of the address bar and history
    return handed;
  }
  return storage.getItem(KEY);
}

export const saveCredential = (storage: Storage, credential: string) => storage.setItem(KEY, credential);
export const forgetCredential = (storage: Storage) => storage.removeItem(KEY);

/** What goes into Authorization: a pasted "Bearer x" is taken as x. */
export const bearer = (credential: string) => `Bearer ${credential.trim().replace(/^bearer\s+/i, '')}`;
