import type { Logger } from '../log.ts';

/** How many refused requests a second are logged one line each before the rest are only counted. */
export const REFUSAL_LINES_PER_SECOND = 100;

/** Milliseconds as a log line gives them, to the microsecond: rounded only where a line is written. */
export const loggedMs = (ms: number) => Number(ms.toFixed(3));

/** How many distinct reason ids a summary line names; the rest are counted under {@link OTHER_REASONS}. */
const MAX_REASONS = 20;
const OTHER_REASONS = '(other reasons)';

/** The fields of one refused request's line. */
export interface Refusal {
  /** `unauthenticated` (a 401, the default) or `forbidden` (a 403: the cross-origin check). */
  readonly outcome?: 'unauthenticated' | 'forbidden';
  /** The stable snake_case id of why (`client_token_not_found`, ...: the README's table). */
  readonly reason: string;
  /** What happened, in words (a method's message), for people. */
  readonly detail: string;
  readonly via: string;
  /** How long the decision took, ms; its line gives it to the microsecond. */
  readonly durationMs?: number;
  readonly path: string;
}

/**
 * The `authentication decision` lines. Refusals are warnings, one line each, up to
 * {@link REFUSAL_LINES_PER_SECOND} in a second; past that (a credential-stuffing run, a client stuck on an expired
 * token), the rest of that second is counted by reason and reported in one line when the second is over, so that
 * a flood of bad requests cannot turn into a flood of log writes that costs more than refusing them. With `log.level:
 * debug`, every refusal gets its own line.
 */
export class DecisionLog {
  readonly #log: Logger;
  readonly #limit: number;
  readonly #now: () => number;
  #second = 0;
  #lines = 0;
  #suppressed = new Map<string, number>();
  #report: NodeJS.Timeout | undefined;

  constructor(log: Logger, options: { limit?: number; now?: () => number } = {}) {
    this.#log = log;
    this.#limit = options.limit ?? REFUSAL_LINES_PER_SECOND;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Logs (or counts) one refusal. Returns whether it was within this second's budget — what else is kept per
   * refusal (its audit event) follows the same rate, whatever the log level.
   */
  refused(refusal: Refusal): boolean {
    const log = this.#log;
    const now = this.#now();
    const second = Math.floor(now / 1000);
    if (second !== this.#second) {
      this.flush();
      this.#second = second;
      this.#lines = 0;
    }
    const within = this.#lines < this.#limit;
    if (within) this.#lines++;
    if (!log.isLevelEnabled('warn')) return within;
    if (within || log.isLevelEnabled('debug')) {
      const { durationMs } = refusal;
      log.warn(
        {
          outcome: 'unauthenticated',
          ...refusal,
          ...(durationMs !== undefined && { durationMs: loggedMs(durationMs) }),
        },
        'authentication decision',
      );
      return within;
    }
    // Counted by reason id; a plugin may name many: the summary keeps the first few and lumps the rest together.
    const reason =
      this.#suppressed.has(refusal.reason) || this.#suppressed.size < MAX_REASONS
        ? refusal.reason
        : OTHER_REASONS;
    this.#suppressed.set(reason, (this.#suppressed.get(reason) ?? 0) + 1);
    this.#report ??= setTimeout(() => this.flush(), 1000 - (now % 1000)).unref();
    return false;
  }

  /** Writes the count of the refusals not logged one by one, if any. Also called on close. */
  flush(): void {
    if (this.#report !== undefined) clearTimeout(this.#report);
    this.#report = undefined;
    if (this.#suppressed.size === 0) return;
    let count = 0;
    for (const n of this.#suppressed.values()) count += n;
    // Refusals of both outcomes are counted together (their reason ids tell them apart).
    this.#log.warn(
      {
        outcome: 'refused',
        count,
        reasons: Object.fromEntries(this.#suppressed),
        limit: this.#limit,
      },
      'authentication decisions over the per-second limit, counted',
    );
    this.#suppressed = new Map();
  }
}
