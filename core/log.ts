import { pino } from 'pino';
import type { LogConfig } from './config/types.ts';

/** A destination pino can write to. */
export interface LogDestination {
  write(line: string): unknown;
}

/** The logger type used across portcullis (pino). */
export type Logger = pino.Logger;

const MIN_SCRUBBED_LENGTH = 3;
const REDACTED = '[REDACTED]';

/**
 * Fields that hold credentials wherever they appear in a log entry. Censored by name, before the value-based
 * scrubbing below catches anything else.
 */
export const REDACTED_FIELDS: readonly string[] = [
  'authorization',
  'cookie',
  'password',
  'client_secret',
  'credential',
  'clientToken',
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
  '*.authorization',
  '*.cookie',
  '*.password',
  '*.client_secret',
  '*.credential',
  '*.clientToken',
];

/** What is written instead of a text the scrubber could not go through. */
const WITHHELD = '[withheld: this text could not be checked for secret values]';

/** The most source one pattern of a scrubber holds, well under V8's limit on a regular expression. */
const MAX_PATTERN_SOURCE = 16 * 1024;

/** Alternations of `values` (in order) in patterns of at most {@link MAX_PATTERN_SOURCE}; a longer value alone. */
function buildPatterns(values: readonly string[]): RegExp[] {
  const patterns: RegExp[] = [];
  let group: string[] = [];
  let size = 0;
  const flush = () => {
    if (group.length > 0) patterns.push(new RegExp(group.join('|'), 'g'));
    group = [];
    size = 0;
  };
  for (const value of values) {
    const source = escapeRegExp(value);
    if (source.length > MAX_PATTERN_SOURCE) {
      flush();
      // Too long for a pattern: matched as plain text.
      patterns.push(plainText(value));
      continue;
    }
    if (size + source.length + 1 > MAX_PATTERN_SOURCE) flush();
    group.push(source);
    size += source.length + 1;
  }
  flush();
  return patterns;
}

/** A "pattern" that `String.prototype.replace` applies as a plain, global search for `value`. */
function plainText(value: string): RegExp {
  return {
    [Symbol.replace]: (text: string, replacement: string) => text.split(value).join(replacement),
  } as unknown as RegExp;
}

/** How many values no longer in use (each form counted) a scrubber keeps; those in use are all kept. */
export const MAX_SCRUBBED_VALUES = 4096;

/**
 * Each value long enough to look for, the same value as it appears inside a JSON string, and inside a JSON string
 * within a JSON string (a message quoting a JSON body, escaped again by the log line).
 */
function* forms(values: Iterable<string>): Generator<string> {
  for (const value of values) {
    if (value.length < MIN_SCRUBBED_LENGTH) continue;
    yield value;
    const escaped = JSON.stringify(value).slice(1, -1);
    if (escaped === value) continue;
    yield escaped;
    yield JSON.stringify(escaped).slice(1, -1);
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Removes known secret values from text about to be written. Every value resolved from a `${secret:...}`
 * reference is added here before anything else is logged, so no log line (whatever field or message it ends up
 * in, JSON-escaped or not) can carry one.
 */
export class SecretScrubber {
  /** Values in use now (never dropped), each in its plain and its JSON-escaped form. */
  #inUse = new Set<string>();
  /** Values no longer in use (a late log line may still hold one), oldest first, at most {@link MAX_SCRUBBED_VALUES}. */
  readonly #history = new Set<string>();
  /** The values, longest first, in patterns of bounded size (applied in order); `null`: to be built. */
  #patterns: RegExp[] | null = [];

  /**
   * Adds values to remove, for good as far as it can: past {@link MAX_SCRUBBED_VALUES}, the values added longest ago
   * and not in use ({@link SecretScrubber.keep}) are dropped, so that a secret rotated every minute for months does
   * not grow the patterns without end.
   */
  add(values: Iterable<string>): void {
    for (const form of forms(values)) {
      this.#history.delete(form);
      if (!this.#inUse.has(form)) this.#history.add(form);
    }
    this.#trim();
  }

  /**
   * Says which values are in use now: these are never dropped, however many values are added. Those in use before
   * and not now are kept as the most recent of the others.
   */
  keep(values: Iterable<string>): void {
    const next = new Set(forms(values));
    for (const form of this.#inUse) if (!next.has(form)) this.#history.add(form);
    for (const form of next) this.#history.delete(form);
    this.#inUse = next;
    this.#trim();
  }

  #trim(): void {
    for (const oldest of this.#history) {
      if (this.#history.size <= MAX_SCRUBBED_VALUES) break;
      this.#history.delete(oldest);
    }
    // Built when next needed: adding values one rotation at a time must not rebuild them each time.
    this.#patterns = null;
  }

  /**
   * `text` with every known value replaced by `[REDACTED]`. Never throws: V8 refuses a regular expression over
   * about 32 KiB of source, and the error it throws would quote every value; so values go into several patterns
   * of bounded size, applied longest values first (a value inside a longer one must not break the longer one's
   * match). Should replacing fail all the same, the whole text is withheld.
   */
  scrub(text: string): string {
    try {
      this.#patterns ??= buildPatterns(
        [...this.#inUse, ...this.#history].sort((a, b) => b.length - a.length),
      );
      let scrubbed = text;
      for (const pattern of this.#patterns) scrubbed = scrubbed.replace(pattern, REDACTED);
      return scrubbed;
    } catch {
      return WITHHELD;
    }
  }

  /**
   * Removes known values from an error about to leave the runtime (its message, its stack, and the messages of
   * the problems it lists, which the command line prints one by one), and drops its cause, which may hold a value
   * in a form not known here. Returns the same error.
   */
  scrubError<T>(error: T): T {
    if (error instanceof Error) {
      error.message = this.scrub(error.message);
      if (error.stack !== undefined) error.stack = this.scrub(error.stack);
      if ('cause' in error) Object.defineProperty(error, 'cause', { value: undefined, enumerable: false });
      // A ConfigError's issues and a SecretResolutionError's failures, without importing either.
      for (const field of ['issues', 'failures']) {
        const list: unknown = (error as unknown as Record<string, unknown>)[field];
        if (Array.isArray(list))
          Object.defineProperty(error, field, { value: list.map((item) => this.#scrubItem(item)) });
      }
    }
    return error;
  }

  #scrubItem(item: unknown): unknown {
    if (typeof item !== 'object' || item === null || !('message' in item) || typeof item.message !== 'string')
      return item;
    return { ...item, message: this.scrub(item.message) };
  }
}

const LEVELS: Readonly<Record<string, pino.Level>> = {
  debug: 'debug',
  info: 'info',
  warn: 'warn',
  error: 'error',
  fatal: 'fatal',
  panic: 'fatal',
};

function consoleValue(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value);
}

/** Turns pino's JSON lines into one readable line each: `time LEVEL message key=value ...`. */
function consoleDestination(
  out: LogDestination,
  keys: { time: string; level: string; message: string },
): LogDestination {
  return {
    write(line: string) {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return out.write(line);
      }
      const { [keys.time]: time, [keys.level]: level, [keys.message]: message, ...rest } = entry;
      const fields = Object.entries(rest).map(([k, v]) => `${k}=${consoleValue(v)}`);
      const head = `${String(time)} ${String(level).toUpperCase().padEnd(5)} ${String(message ?? '')}`;
      return out.write(`${[head, ...fields].join(' ')}\n`);
    },
  };
}

/**
 * Creates the process logger from `log:`: level (Flipt's names, `panic` as `fatal`), JSON or console
 * encoding, Flipt's `log.keys`, standard output or `log.file`. Credentials are redacted by field name and every
 * value known to `scrubber` is removed from the output.
 */
export function createLogger(
  settings: Pick<LogConfig, 'level' | 'encoding' | 'file' | 'keys'>,
  scrubber: SecretScrubber,
  destination?: LogDestination,
): Logger {
  const keys = {
    time: settings.keys.time ?? 'time',
    level: settings.keys.level ?? 'level',
    message: settings.keys.message ?? 'msg',
  };
  const sink: LogDestination =
    destination ??
    pino.destination(settings.file === undefined ? 1 : { dest: settings.file, mkdir: true, sync: true });
  return pino(
    {
      level: LEVELS[settings.level.toLowerCase()] ?? 'info',
      messageKey: keys.message,
      base: undefined,
      timestamp: () => `,"${keys.time}":"${new Date().toISOString()}"`,
      formatters: {
        // Not a literal with a computed key, which V8 can leave on its slow path for good (core/tick-shape.ts); no
        // prototype, so that a level key of `__proto__` is a field like any other.
        level: (label) => {
          const fields: Record<string, string> = { __proto__: null } as unknown as Record<string, string>;
          fields[keys.level] = label;
          return fields;
        },
      },
      redact: { paths: [...REDACTED_FIELDS], censor: REDACTED },
      hooks: { streamWrite: (line) => scrubber.scrub(line) },
    },
    (settings.encoding === 'console' ? consoleDestination(sink, keys) : sink) as pino.DestinationStream,
  );
}
