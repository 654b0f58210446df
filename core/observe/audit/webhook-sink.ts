import { createHmac } from 'node:crypto';
import { backoff } from '../../references/resolve.ts';
import { type PendingEvent, QueuedSink, type SinkContext } from './sink.ts';

/** Flipt's header (`internal/server/audit/webhook/client.go`): hex HMAC-SHA256 of the body. */
export const SIGNATURE_HEADER = 'x-flipt-webhook-signature';

/** Flipt's `max_backoff_duration` when it is not set (or not positive). */
const DEFAULT_MAX_BACKOFF_MS = 15_000;

/** The webhook's settings: `audit.sinks.webhook`, its secret resolved. */
export interface WebhookSettings {
  readonly url: string;
  /** `""`: requests are not signed. */
  readonly signing_secret: string;
  readonly max_backoff_duration: number;
}

/** How the sink waits (tests shorten them). */
export interface WebhookTiming {
  /** The first wait before trying an event again, doubling up to `max_backoff_duration` (1 s). */
  readonly firstBackoffMs?: number;
  /** How long one attempt may take (10 s). */
  readonly attemptTimeoutMs?: number;
}

/** Where requests go: the URL without user information (sent as Basic authorization instead, as Go's client does). */
type Target =
  | { readonly url: string; readonly origin: string; readonly authorization?: string }
  | { readonly problem: string };

function target(raw: string): Target {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { problem: 'the URL cannot be parsed' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { problem: 'the URL is not http(s)' };
  const user =
    url.username === '' && url.password === ''
      ? undefined
      : `${decoded(url.username)}:${decoded(url.password)}`;
  url.username = '';
  url.password = '';
  const origin = url.origin;
  if (user === undefined) return { url: url.href, origin };
  return { url: url.href, origin, authorization: `Basic ${Buffer.from(user).toString('base64')}` };
}

/** A URL's user or password as Go's `url.User` holds it: percent-decoded (as written, when that fails). */
function decoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** What one attempt came to. */
type Attempt =
  | { readonly outcome: 'sent' }
  | { readonly outcome: 'retry'; readonly why: string }
  | { readonly outcome: 'refused'; readonly why: string };

/** Why a request failed, in words that hold no URL path, header or body: the error's code or name. */
function failure(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && error.name === 'TimeoutError') return `no answer within ${timeoutMs} ms`;
  const cause = error instanceof Error ? (error.cause as { code?: unknown } | undefined) : undefined;
  if (typeof cause?.code === 'string') return cause.code;
  return error instanceof Error ? error.name : 'request failed';
}

/**
 * `audit.sinks.webhook`: one `POST` per event, in order, its body the event's JSON, signed with
 * `signing_secret` when set. A connection error, a timeout, 408, 429 or a 5xx is tried again after a wait (1 s,
 * doubling up to `max_backoff_duration`) for as long as the event is pending (Flipt gives up after 4 retries);
 * any other answer but 2xx refuses that event for good: it is counted `failed` and the next one is sent.
 * Failures are logged once per run of them, never with the body, the secret or the URL's path.
 */
export class WebhookSink extends QueuedSink {
  readonly #target: Target;
  readonly #secret: string;
  readonly #maxBackoffMs: number;
  readonly #firstBackoffMs: number;
  readonly #attemptTimeoutMs: number;
  /** Attempts that failed since the last delivery, and the first one's reason (logged once). */
  #retries = 0;
  /** Events refused since the last delivery (the first one logged with its status). */
  #refused = 0;
  #wake: (() => void) | undefined;

  constructor(settings: WebhookSettings, context: SinkContext, timing: WebhookTiming = {}) {
    super('webhook', context);
    this.#target = target(settings.url);
    this.#secret = settings.signing_secret;
    this.#maxBackoffMs =
      settings.max_backoff_duration > 0 ? settings.max_backoff_duration : DEFAULT_MAX_BACKOFF_MS;
    this.#firstBackoffMs = Math.min(timing.firstBackoffMs ?? 1000, this.#maxBackoffMs);
    this.#attemptTimeoutMs = timing.attemptTimeoutMs ?? 10_000;
    if ('problem' in this.#target) {
      this.log.error({ sink: this.name, error: this.#target.problem }, 'audit webhook cannot be used');
    }
  }

  get #origin(): string {
    return 'origin' in this.#target ? this.#target.origin : '';
  }

  protected async drain(): Promise<void> {
    for (let event = this.oldest(); event !== undefined && !this.stopped; event = this.oldest()) {
      await this.#deliver(event);
    }
  }

  /** Tries `event` until it is sent, refused, dropped from the queue meanwhile, or the sink stops. */
  async #deliver(event: PendingEvent): Promise<void> {
    const delays = backoff(this.#firstBackoffMs, this.#maxBackoffMs);
    for (;;) {
      const attempt = await this.#attempt(event);
      // Stopped, or dropped by max_pending while in flight or waiting: counted then, not again.
      if (this.stopped || this.oldest() !== event) return;
      if (attempt.outcome === 'sent') {
        this.takeOldest(1);
        this.settle('sent', 1);
        this.#delivered();
        return;
      }
      if (attempt.outcome === 'refused') {
        this.takeOldest(1);
        this.settle('failed', 1);
        if (this.#refused === 0) {
          this.log.warn(
            { sink: this.name, target: this.#origin, error: attempt.why },
            'audit webhook refused an event; dropped (further refusals are counted until one is delivered)',
          );
        }
        this.#refused += 1;
        return;
      }
      if (this.#retries === 0) {
        this.log.warn(
          { sink: this.name, target: this.#origin, error: attempt.why },
          'audit webhook cannot deliver; trying again with backoff while the event is pending',
        );
      }
      this.#retries += 1;
      await this.#sleep(delays.next().value as number);
      if (this.stopped || this.oldest() !== event) return;
    }
  }

  /** A delivery ends a run of failures: said once, with how many attempts failed and events were refused. */
  #delivered(): void {
    if (this.#retries === 0 && this.#refused === 0) return;
    this.log.info(
      { sink: this.name, target: this.#origin, failed_attempts: this.#retries, refused: this.#refused },
      'audit webhook delivers again',
    );
    this.#retries = 0;
    this.#refused = 0;
  }

  async #attempt(event: PendingEvent): Promise<Attempt> {
    const target = this.#target;
    if ('problem' in target) return { outcome: 'refused', why: target.problem };
    const body = Buffer.from(event.json);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (target.authorization !== undefined) headers.authorization = target.authorization;
    if (this.#secret !== '') {
      headers[SIGNATURE_HEADER] = createHmac('sha256', this.#secret).update(body).digest('hex');
    }
    try {
      const response = await fetch(target.url, {
        method: 'POST',
        headers,
        body,
        redirect: 'manual',
        signal: AbortSignal.any([AbortSignal.timeout(this.#attemptTimeoutMs), this.stopping.signal]),
      });
      await response.body?.cancel().catch(() => undefined);
      const { status } = response;
      if (status >= 200 && status < 300) return { outcome: 'sent' };
      const why = `HTTP ${status}`;
      return status === 408 || status === 429 || status >= 500
        ? { outcome: 'retry', why }
        : { outcome: 'refused', why };
    } catch (error) {
      return { outcome: 'retry', why: failure(error, this.#attemptTimeoutMs) };
    }
  }

  /** Waits `ms`, or less when the stream closes (one more attempt before the deadline) or the sink stops. */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const { signal } = this.stopping;
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      signal.addEventListener('abort', done, { once: true });
      this.#wake = done;
    });
  }

  override closing(): void {
    this.#wake?.();
  }

  protected override async release(): Promise<void> {
    // The first refusal of a run is logged when it happens; a run of several is summed up here.
    if (this.#refused > 1) {
      this.log.warn(
        { sink: this.name, target: this.#origin, refused: this.#refused },
        'audit webhook refused events since its last delivery',
      );
    }
  }
}
