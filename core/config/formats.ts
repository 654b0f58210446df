import { parseGoDuration } from './duration.ts';

/** The string formats our schemas use. Shared by the runtime compiler and the precompiled validator. */
export const formats = {
  'go-duration': { type: 'string', validate: (text: string) => parseGoDuration(text) !== undefined },
} as const;
