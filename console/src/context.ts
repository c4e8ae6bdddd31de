import { createContext, useContext } from 'react';
import type { Translate } from './i18n';
import type { Viewer } from './operations';

export interface ConsoleContext {
  t: Translate;
  viewer: Viewer;
  /** Runs one act and reports its result or its error in the notices. */
  act: (label: string, run: () => Promise<unknown>) => Promise<boolean>;
}

export const Console = createContext<ConsoleContext | null>(null);

export function useConsole(): ConsoleContext {
  const value = useContext(Console);
  if (!value) throw new Error('outside the console');
  return value;
}

/** Whether the caller may moderate `room`, as the service's viewer query said. */
export const moderates = (viewer: Viewer, room: string) =>
  viewer.moderatedRooms === null || viewer.moderatedRooms.includes(room);
