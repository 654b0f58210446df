/** Nanoseconds in one unit, for the units Go's `time.ParseDuration` accepts. */
const UNIT_NS: Readonly<Record<string, number>> = {
  ns: 1,
  us: 1e3,
  µs: 1e3, // U+00B5 micro sign
  μs: 1e3, // U+03BC Greek mu
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

const COMPONENT = /([0-9]*(?:\.[0-9]*)?)([a-zµμ]+)/y;

/**
 * Parses a Go duration (`30m`, `1h30m`, `1.5h`, `500ms`, `-2s`, `0`) into milliseconds, exactly as Go's
 * `time.ParseDuration` does. Returns `undefined` when the text is not a Go duration.
 */
export function parseGoDuration(text: string): number | undefined {
  let rest = text;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    if (rest.startsWith('-')) sign = -1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') return undefined;

  let totalNs = 0;
  COMPONENT.lastIndex = 0;
  while (COMPONENT.lastIndex < rest.length) {
    const match = COMPONENT.exec(rest);
    if (match === null) return undefined;
    const [, number = '', unit = ''] = match;
    if (number === '' || number === '.') return undefined;
    const scale = UNIT_NS[unit];
    if (scale === undefined) return undefined;
    totalNs += Number(number) * scale;
  }
  // Go rejects values that overflow int64 nanoseconds (about 292 years).
  if (totalNs > 2 ** 63 - 1) return undefined;
  return (sign * totalNs) / 1e6;
}

/**
 * A duration as the config may hold it: a Go duration string, or an integer of nanoseconds (what a bare
 * YAML integer means to Flipt). Returns milliseconds, or `undefined` when the value is neither.
 */
export function durationToMs(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) ? value / 1e6 : undefined;
  if (typeof value === 'string') return parseGoDuration(value);
  return undefined;
}

/** Formats milliseconds the way Go prints a `time.Duration` (`1h30m0s`, `500ms`, `0s`), for messages. */
export function formatGoDuration(ms: number): string {
  if (ms === 0) return '0s';
  const sign = ms < 0 ? '-' : '';
  let rest = Math.abs(ms);
  if (rest < 1000) return `${sign}${rest}ms`;
  const hours = Math.floor(rest / 3_600_000);
  rest -= hours * 3_600_000;
  const minutes = Math.floor(rest / 60_000);
  rest -= minutes * 60_000;
  const seconds = `${Number((rest / 1000).toFixed(9))}s`;
  if (hours > 0) return `${sign}${hours}h${minutes}m${seconds}`;
  if (minutes > 0) return `${sign}${minutes}m${seconds}`;
  return `${sign}${seconds}`;
}
