/** Parses an absolute URL, or returns `undefined` (without the exception `new URL` throws). */
export function parseUrl(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}

/** Whether `text` is exactly an absolute http:// or https:// URL (no surrounding whitespace, which `URL` drops). */
export function isHttpUrl(text: string): boolean {
  const url = parseUrl(text);
  return url !== undefined && (url.protocol === 'http:' || url.protocol === 'https:') && text === text.trim();
}
