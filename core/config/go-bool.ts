/** Go's `strconv.ParseBool` spellings, and what each means. */
const GO_BOOLEANS: Readonly<Record<string, boolean>> = {
  '1': true,
  t: true,
  T: true,
  TRUE: true,
  true: true,
  True: true,
  '0': false,
  f: false,
  F: false,
  FALSE: false,
  false: false,
  False: false,
};

/**
 * Go's `strconv.ParseBool`: `true` for `1`, `t`, `T`, `TRUE`, `true`, `True`; `false` for `0`, `f`, `F`, `FALSE`,
 * `false`, `False`; `undefined` for anything else. What Flipt's configuration decoding and Go tools' environment
 * variables (`VAULT_SKIP_VERIFY`, ...) accept.
 */
export function parseGoBool(text: string): boolean | undefined {
  return Object.hasOwn(GO_BOOLEANS, text) ? GO_BOOLEANS[text] : undefined;
}
