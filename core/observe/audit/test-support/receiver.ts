import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { onTestFinished } from 'vitest';

/** One request the receiver got. */
export interface Received {
  readonly body: string;
  /** The body, parsed: an audit event. */
  readonly event: {
    readonly type: string;
    readonly action: string;
    readonly payload: Record<string, unknown> | null;
  } & Record<string, unknown>;
  readonly headers: IncomingMessage['headers'];
  /** Whether `x-flipt-webhook-signature` is the HMAC-SHA256 (hex) of the body's bytes with the receiver's secret. */
  readonly verified: boolean;
  /** The status it was answered with. */
  readonly status: number;
}

/** How the receiver answers a request (the default: 200); `'hang'` never answers. */
export type Answer = (event: Received['event'], attempt: number) => number | 'hang';

/**
 * A webhook receiver on loopback that checks each request's signature with its own HMAC, as a real receiver
 * would. It can go down (its port closed) and come up again on the same port.
 */
export class Receiver {
  readonly received: Received[] = [];
  readonly #secret: string;
  #answer: Answer;
  #server: Server | undefined;
  #port = 0;
  /** Attempts per event body, to answer "the second attempt" and so on. */
  readonly #attempts = new Map<string, number>();
  #waiters: Array<() => void> = [];

  constructor(secret: string, answer: Answer = () => 200) {
    this.#secret = secret;
    this.#answer = answer;
  }

  /** Starts (again, on the same port once it has one). Closed when the test ends. */
  async up(): Promise<this> {
    const server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const bytes = Buffer.concat(chunks);
        const body = bytes.toString('utf8');
        const attempt = (this.#attempts.get(body) ?? 0) + 1;
        this.#attempts.set(body, attempt);
        const event = JSON.parse(body) as Received['event'];
        const answer = this.#answer(event, attempt);
        if (answer === 'hang') return;
        this.received.push({
          body,
          event,
          headers: request.headers,
          verified: this.#verify(bytes, request.headers['x-flipt-webhook-signature']),
          status: answer,
        });
        response.writeHead(answer, { 'content-type': 'text/plain' }).end('ok');
        for (const wake of this.#waiters.splice(0)) wake();
      });
    });
    await new Promise<void>((resolve) => server.listen(this.#port, '127.0.0.1', resolve));
    this.#port = (server.address() as AddressInfo).port;
    this.#server = server;
    onTestFinished(() => this.down());
    return this;
  }

  /** Closes the port (connections refused) until {@link up} again. */
  async down(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}/hooks/audit?token=query-credential`;
  }

  /** The events answered with 2xx, in the order they arrived. */
  get delivered(): Received[] {
    return this.received.filter((r) => r.status >= 200 && r.status < 300);
  }

  /** Resolves once `count` events have been answered with 2xx (rejects after `timeoutMs`). */
  async waitFor(count: number, timeoutMs = 15_000): Promise<Received[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.delivered.length < count) {
      if (Date.now() > deadline) throw new Error(`${this.delivered.length} of ${count} events delivered`);
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
    return this.delivered;
  }

  #verify(body: Buffer, header: string | string[] | undefined): boolean {
    if (typeof header !== 'string' || !/^[0-9a-f]{64}$/.test(header)) return false;
    const expected = createHmac('sha256', this.#secret).update(body).digest();
    return timingSafeEqual(expected, Buffer.from(header, 'hex'));
  }
}
