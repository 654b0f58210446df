import fc from 'fast-check';

/**
 * The property-based ("fuzz") tests' knobs: a fixed seed and a small number of inputs per target by default (what CI
 * and `npm test` run), `FUZZ_SEED` and `FUZZ_RUNS` (inputs per target, for every target) for longer runs by people:
 * `FUZZ_RUNS=20000 FUZZ_SEED=7 npm run fuzz`.
 */
export const FUZZ_SEED = Number.parseInt(process.env.FUZZ_SEED ?? '', 10) || 20;

const asked = Number.parseInt(process.env.FUZZ_RUNS ?? '', 10);

/** Inputs to try for a target: `FUZZ_RUNS` when set, else `ciRuns`. */
export function fuzzRuns(ciRuns: number): number {
  return asked > 0 ? asked : ciRuns;
}

/** A test's timeout: `ciMs` at CI size, a day when `FUZZ_RUNS` asks for a longer run. */
export function fuzzTimeout(ciMs: number): number {
  return asked > 0 ? 24 * 3600_000 : ciMs;
}

/**
 * Checks `predicate` for `ciRuns` (or `FUZZ_RUNS`) inputs drawn from `arbitrary` with the fixed seed, and prints how
 * many inputs `target` was given (shrinking a failure counts too). Throws fast-check's report (seed, path, the
 * shrunk counterexample) when an input fails.
 */
export async function fuzz<T>(
  target: string,
  arbitrary: fc.Arbitrary<T>,
  predicate: (input: T) => Promise<void> | void,
  ciRuns: number,
): Promise<number> {
  let tried = 0;
  try {
    await fc.assert(
      fc.asyncProperty(arbitrary, async (input) => {
        tried++;
        await predicate(input);
      }),
      { seed: FUZZ_SEED, numRuns: fuzzRuns(ciRuns) },
    );
  } finally {
    console.log(`fuzz: ${target}: ${tried} inputs (seed ${FUZZ_SEED})`);
  }
  return tried;
}

/** What parsers split, quote, trim and decode on, and what a byte/character confusion trips over. */
const SPECIAL = [
  ...' \t\r\n\0"\'\\;,=:/%${}.?#&',
  ...['\u00a0', '\u00ff', '\u0100', '\ud800', '\udfff', '\ufeff', 'é', '😀'],
  ...['Bearer ', 'JWT ', '${secret:', '__proto__'],
];

/** Strings of any UTF-16 code units, weighted towards the characters parsers split and quote on. */
export function nastyString(maxLength = 64): fc.Arbitrary<string> {
  const special = fc.constantFrom(...SPECIAL);
  const unit = fc.oneof(
    { weight: 3, arbitrary: fc.string({ unit: 'grapheme-ascii', maxLength: 4 }) },
    { weight: 2, arbitrary: special },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 2 }) },
  );
  return fc.array(unit, { maxLength }).map((parts) => parts.join('').slice(0, maxLength * 4));
}

/** Bytes of a header value as Node hands them over: one character per byte (Latin-1), no CR, LF or NUL. */
export function headerValue(maxLength = 64): fc.Arbitrary<string> {
  return nastyString(maxLength).map((text) =>
    Buffer.from(text, 'utf8')
      .toString('latin1')
      .replace(/[\r\n\0]/g, ''),
  );
}

/**
 * Text for a URL's path or query as a client may send it: percent-encoded characters (UTF-8 or not), raw ones, and
 * broken or doubly encoded escapes. Only the characters an HTTP request line can carry.
 */
export function urlText(maxLength = 32): fc.Arbitrary<string> {
  const piece = fc.oneof(
    nastyString(6).map((text) => encodeURIComponent(text.replace(/[\ud800-\udfff]/g, ''))),
    fc.stringMatching(/^[A-Za-z0-9._~!$&'()*+,;=:@/?-]{0,6}$/),
    fc.constantFrom(
      '%',
      '%z',
      '%zz',
      '%00',
      '%2f',
      '%2F',
      '%2e%2e',
      '%252e',
      '%c0%af',
      '%ff',
      '..',
      '//',
      '/./',
      '\\',
    ),
  );
  return fc.array(piece, { maxLength: 8 }).map((pieces) => pieces.join('').slice(0, maxLength * 3));
}

/**
 * Whether a status is a server error: any 5xx but Flipt's 501 (gRPC code 12, UNIMPLEMENTED) for a method a route
 * does not have, which grpc-gateway answers and portcullis answers alike (core/http/api.test.ts).
 */
export function isServerError(status: number, body: string): boolean {
  return status >= 500 && !(status === 501 && body.includes('"code":12'));
}

/** What `inject` answers, checked: never a server error ({@link isServerError}); returns the status. */
export async function notServerError(
  app: { inject(options: object): Promise<{ statusCode: number; body: string }> },
  request: Record<string, unknown>,
): Promise<number> {
  const response = await app.inject(request);
  if (isServerError(response.statusCode, response.body)) {
    throw new Error(`${response.statusCode} for ${JSON.stringify(request)}: ${response.body.slice(0, 300)}`);
  }
  return response.statusCode;
}
