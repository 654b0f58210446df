/** Parses an absolute URL, or returns `undefined` (without the exception `new URL` throws). */
export function parseUrl(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}
