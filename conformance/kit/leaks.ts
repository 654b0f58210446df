/**
 * Looking for secrets where they must never be: log lines, error messages, answers. Failures name where a secret
 * was found and which one by position and length, never by its value.
 */

/** A text to search, and how a failure names it (`log line 3`, `GET /auth/v1/self answer body`). */
export interface Place {
  readonly where: string;
  readonly text: string;
}

/** Values shorter than this are not searched for: they would be found by chance. */
export const MIN_SECRET_LENGTH = 6;

/** The spellings a value may take in JSON, a URL or a header: as is, JSON-escaped, percent-encoded. */
function spellings(secret: string): string[] {
  return [...new Set([secret, JSON.stringify(secret).slice(1, -1), encodeURIComponent(secret)])];
}

/** Throws when a fixture lists a secret too short to search for (the check would mean nothing). */
export function assertSearchable(secrets: readonly string[], field: string): void {
  secrets.forEach((secret, i) => {
    if (secret.length < MIN_SECRET_LENGTH) {
      throw new Error(
        `${field}[${i}] is ${secret.length} characters long; secrets shorter than ${MIN_SECRET_LENGTH} cannot be searched for`,
      );
    }
  });
}

/** Where any of `secrets` appears in `places`, in words that do not repeat it; empty when nowhere. */
export function secretSightings(secrets: readonly string[], places: readonly Place[]): string[] {
  const found: string[] = [];
  secrets.forEach((secret, i) => {
    if (secret.length < MIN_SECRET_LENGTH) return;
    const forms = spellings(secret);
    for (const place of places) {
      if (forms.some((form) => place.text.includes(form))) {
        found.push(`secret #${i} (${secret.length} characters) in ${place.where}`);
      }
    }
  });
  return found;
}

/** Everything an error shows: its message, stack, own properties and causes, as places to search. */
export function errorPlaces(error: unknown, where: string): Place[] {
  const places: Place[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 8; depth++) {
    const label = depth === 0 ? where : `${where} (cause ${depth})`;
    if (current instanceof Error) {
      places.push({ where: `${label} message`, text: current.message });
      places.push({ where: `${label} stack`, text: current.stack ?? '' });
      let own = '';
      try {
        own = JSON.stringify(current);
      } catch {
        own = '';
      }
      places.push({ where: `${label} properties`, text: own });
      current = current.cause;
    } else {
      places.push({ where: label, text: String(current) });
      current = undefined;
    }
  }
  return places;
}

/** Throws, naming every sighting, when any secret appears in the places. */
export function assertNoSecrets(secrets: readonly string[], places: readonly Place[]): void {
  const found = secretSightings(secrets, places);
  if (found.length > 0) throw new Error(`secret values were shown: ${found.join('; ')}`);
}
