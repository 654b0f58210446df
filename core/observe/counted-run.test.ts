import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { importJWK, type JWK, SignJWT } from 'jose';
import { describe, expect, it, onTestFinished } from 'vitest';
import { Browser } from '../test-support/browser.ts';
import { parseExposition, type Sample, value } from '../test-support/exposition.ts';
import { eventually } from '../test-support/load.ts';
import {
  callbackUrl,
  signingKey,
  startTestProvider,
  type TestProvider,
} from '../test-support/openid-provider.ts';
import { freePort, retryOnPortClash } from '../test-support/ports.ts';
import { bearer, serveForTest, type TestServer } from '../test-support/server.ts';
import { tempDir } from '../test-support/tmp.ts';
import { Receiver } from './audit/test-support/receiver.ts';

/** Every credential and secret the run uses: none may appear in any event. */
const ADMIN_TOKEN = 'admin-secret-7f3a';
const CLIENT_SECRET = 'oidc-client-secret-91c2';
const SIGNING_SECRET = 'whsec-5d0e-audit-signing';
const BAD_TOKEN = 'not-a-real-token-0b6d';

interface World {
  readonly t: TestServer;
  readonly op: TestProvider;
  readonly base: string;
  readonly key: JWK;
  readonly receiver: Receiver;
  readonly logFile: string;
}

async function startWorld(): Promise<World> {
  const receiver = await new Receiver(SIGNING_SECRET).up();
  // Down from the start: every event has to wait for it.
  await receiver.down();
  const logFile = join(tempDir(), 'audit', 'events.log');
  const key = await signingKey('run-key');
  return retryOnPortClash(async () => {
    const port = await freePort();
    const base = `http://localhost:${port}`;
    const op = await startTestProvider({
      clients: [
        {
          client_id: 'client-main',
          client_secret: CLIENT_SECRET,
          redirect_uris: [`${base}/auth/v1/method/oidc/main/callback`],
        },
      ],
      accounts: {
        mark: { email: 'mark@flipt.io', email_verified: true, name: 'Mark Phelps' },
        eve: { email: 'eve@evil.example', email_verified: true, name: 'Eve' },
      },
      keys: [key],
    });
    onTestFinished(() => op.close());
    const t = await serveForTest({
      server: { host: 'localhost', http_port: port },
      authentication: {
        required: true,
        // Front-channel logout needs Secure cookies: the sessions are used as bearer tokens below.
        session: { domain: 'localhost', secure: true },
        methods: {
          token: { enabled: true, storage: { tokens: { admin: { credential: ADMIN_TOKEN } } } },
          oidc: {
            enabled: true,
            email_matches: ['^.*@flipt\\.io$'],
            providers: {
              main: {
                issuer_url: op.issuer,
                client_id: 'client-main',
                client_secret: CLIENT_SECRET,
                redirect_address: base,
                scopes: ['email', 'profile'],
                allow_front_channel_logout: true,
              },
            },
          },
        },
      },
      audit: {
        sinks: {
          log: { enabled: true, file: logFile },
          webhook: {
            enabled: true,
            url: receiver.url,
            signing_secret: SIGNING_SECRET,
            max_backoff_duration: '1s',
          },
        },
        buffer: { capacity: 2, flush_period: '2m' },
      },
    });
    return { t, op, base, key, receiver, logFile };
  });
}

/** A browser login at the provider as `user`; resolves to the callback's answer and the browser holding its cookie. */
async function login(world: World, user: string) {
  const browser = new Browser();
  onTestFinished(() => browser.close());
  const authorize = await browser.request(`${world.base}/auth/v1/method/oidc/main/authorize`);
  const { authorizeUrl } = JSON.parse(authorize.body) as { authorizeUrl: string };
  const url = await callbackUrl(browser, authorizeUrl, user);
  const callback = await browser.request(url);
  const token = /flipt_client_token=([^;]+)/.exec(callback.headers.getSetCookie().join('\n'))?.[1];
  return { browser, callback, url, token };
}

async function scrape(t: TestServer): Promise<Sample[]> {
  return parseExposition(await (await t.fetch('/metrics')).text());
}

describe('a run of logins, token calls and refusals, as /metrics counts it and the audit sinks receive it', () => {
  it('counts each login, decision and event, delivers every event once, signed, after the webhook comes back, and never a credential', async () => {
    const world = await startWorld();
    const { t, receiver } = world;
    const slowest: number[] = [];
    /** Every request of the run is timed: the sinks (the webhook down) must never hold one up. */
    const timed = async <T>(work: () => Promise<T>): Promise<T> => {
      const started = performance.now();
      try {
        return await work();
      } finally {
        slowest.push(performance.now() - started);
      }
    };
    const admin = { headers: bearer(ADMIN_TOKEN) };
    // The receiver's URL carries a credential of its own in its query.
    const secrets: string[] = [ADMIN_TOKEN, CLIENT_SECRET, SIGNING_SECRET, BAD_TOKEN, 'query-credential'];

    // Logins: two succeed, one is refused by email_matches, one callback comes with a forged state.
    const mark = await timed(() => login(world, 'mark'));
    expect(mark.callback.status).toBe(302);
    const eve = await timed(() => login(world, 'eve'));
    expect(eve.callback.status).toBe(403);
    const forged = await timed(() => t.fetch('/auth/v1/method/oidc/main/callback?state=forged&code=abc'));
    expect(forged.status).toBe(401);
    const second = await timed(() => login(world, 'mark'));
    for (const session of [mark, eve, second]) {
      secrets.push(new URL(session.url).searchParams.get('code') as string);
      if (session.token !== undefined) secrets.push(session.token);
    }

    // A client token created, used to expire itself, then deleted; refusals of a token that does not exist.
    const created = await timed(() =>
      t.fetch('/auth/v1/method/token', {
        method: 'POST',
        headers: { ...bearer(ADMIN_TOKEN), 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'ci', description: 'for the pipeline' }),
      }),
    );
    const { clientToken, authentication } = (await created.json()) as {
      clientToken: string;
      authentication: { id: string };
    };
    secrets.push(clientToken);
    const expired = await timed(() =>
      t.fetch('/auth/v1/self/expire', {
        method: 'PUT',
        headers: { ...bearer(clientToken), 'content-type': 'application/json' },
        body: '{}',
      }),
    );
    expect(expired.status).toBe(200);
    for (let i = 0; i < 3; i++) {
      expect((await timed(() => t.fetch('/auth/v1/self', { headers: bearer(BAD_TOKEN) }))).status).toBe(401);
    }
    const deleted = await timed(() =>
      t.fetch(`/auth/v1/tokens/${authentication.id}`, { method: 'DELETE', ...admin }),
    );
    expect(deleted.status).toBe(200);

    // The second browser's session is deleted by an administrator; the first logs itself out.
    const me = (await (
      await t.fetch('/auth/v1/self', { headers: bearer(second.token as string) })
    ).json()) as {
      id: string;
    };
    expect(
      (await timed(() => t.fetch(`/auth/v1/tokens/${me.id}`, { method: 'DELETE', ...admin }))).status,
    ).toBe(200);
    const revoked = await timed(() =>
      t.fetch('/auth/v1/self/revoke', { method: 'DELETE', headers: bearer(mark.token as string) }),
    );
    expect(revoked.status).toBe(200);

    // The provider's own logouts: front channel (a frame), back channel (a signed logout token).
    const front = await timed(() =>
      t.fetch(`/auth/v1/method/oidc/main/revoke?iss=${encodeURIComponent(world.op.issuer)}&sid=sid-1`),
    );
    expect(front.status).toBe(200);
    const now = Math.floor(Date.now() / 1000);
    const logoutToken = await new SignJWT({
      iss: world.op.issuer,
      aud: 'client-main',
      iat: now,
      exp: now + 120,
      jti: 'logout-run-1',
      sub: 'mark',
      events: { 'http://schemas.openid.net/event/backchannel-logout': {} },
    })
      .setProtectedHeader({ alg: 'RS256', kid: world.key.kid as string, typ: 'logout+jwt' })
      .sign(await importJWK(world.key, 'RS256'));
    secrets.push(logoutToken);
    const back = await timed(() =>
      t.fetch('/auth/v1/method/oidc/main/revoke', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `logout_token=${logoutToken}`,
      }),
    );
    expect(back.status).toBe(200);

    // The webhook has been down all along: nothing delivered, and no request waited for it.
    expect(receiver.delivered).toEqual([]);
    expect(Math.max(...slowest)).toBeLessThan(2000);

    const expected: Record<string, number> = {
      'login:succeeded': 2,
      'login:refused': 2,
      'token:created': 1,
      'authentication:expired': 1,
      'authentication:refused': 3,
      'token:deleted': 1,
      'authentication:deleted': 1,
      'logout:self': 1,
      'logout:front_channel': 1,
      'logout:back_channel': 1,
    };
    const total = Object.values(expected).reduce((sum, n) => sum + n, 0);

    // The log sink appends to its file in the background: the last requests' events may still be on their way.
    const sentToLog = async () =>
      value(await scrape(t), 'portcullis_audit_events_total', { sink: 'log', outcome: 'sent' });
    await eventually(async () => (await sentToLog()) >= total, 5_000, 'the log sink writing every event');
    const samples = await scrape(t);
    const logins = (labels: Record<string, string>) =>
      value(samples, 'portcullis_logins_total', { method: 'METHOD_OIDC', provider: 'main', ...labels });
    expect(logins({ outcome: 'started' })).toBe(3);
    expect(logins({ outcome: 'succeeded' })).toBe(2);
    expect(logins({ outcome: 'refused', reason: 'email_not_allowed' })).toBe(1);
    expect(logins({ outcome: 'refused', reason: 'state_mismatch' })).toBe(1);
    const decisions = (labels: Record<string, string>) =>
      value(samples, 'portcullis_authentication_decisions_total', labels);
    expect(decisions({ outcome: 'unauthenticated', reason: 'client_token_not_found' })).toBe(3);
    // The administrator thrice (create, two deletes), the new token once (its own expiry); two OIDC sessions.
    expect(decisions({ outcome: 'authenticated', method: 'METHOD_TOKEN' })).toBe(4);
    expect(decisions({ outcome: 'authenticated', method: 'METHOD_OIDC' })).toBe(2);
    expect(value(samples, 'portcullis_audit_events_total', { sink: 'log', outcome: 'sent' })).toBe(total);
    expect(value(samples, 'portcullis_audit_events_total', { sink: 'webhook', outcome: 'sent' })).toBe(0);

    // The webhook comes back: what it missed arrives (all but a last half-full batch, which waits for its period).
    await receiver.up();
    await receiver.waitFor(total - (total % 2), 20_000);
    // Closing hands over the last batch and delivers it.
    await t.server.close();
    const delivered = receiver.delivered;
    expect(delivered).toHaveLength(total);
    expect(delivered.every((r) => r.verified)).toBe(true);
    expect(delivered.every((r) => r.headers['content-type'] === 'application/json')).toBe(true);

    const counts = (events: Array<{ type?: unknown; action?: unknown }>) => {
      const seen: Record<string, number> = {};
      for (const event of events) {
        const key = `${String(event.type)}:${String(event.action)}`;
        seen[key] = (seen[key] ?? 0) + 1;
      }
      return seen;
    };
    expect(counts(delivered.map((r) => r.event))).toEqual(expected);
    const lines = readFileSync(world.logFile, 'utf8').trim().split('\n');
    const logged = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(counts(logged)).toEqual(expected);
    // The same events, in the same order, through both sinks.
    expect(delivered.map((r) => r.body)).toEqual(lines);

    for (const event of logged) {
      expect(event).toMatchObject({ version: '0.2', status: expect.stringMatching(/^(success|denied)$/) });
      expect(String(event.timestamp)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    }
    const find = (type: string, action: string) =>
      logged.filter((e) => e.type === type && e.action === action) as Array<{
        payload: Record<string, unknown>;
      }>;
    expect(find('login', 'succeeded')[0]).toMatchObject({
      status: 'success',
      metadata: { actor: { authentication: 'oidc', email: 'mark@flipt.io', name: 'Mark Phelps' } },
      payload: { method: 'METHOD_OIDC', provider: 'main', subject: 'mark' },
    });
    expect(
      find('login', 'refused')
        .map((e) => e.payload.reason)
        .sort(),
    ).toEqual(['email_not_allowed', 'state_mismatch']);
    expect(find('token', 'created')[0]).toMatchObject({
      metadata: { actor: { authentication: 'token' } },
      payload: { 'io.flipt.auth.token.name': 'ci', 'io.flipt.auth.token.description': 'for the pipeline' },
    });
    expect(find('authentication', 'refused')[0]).toMatchObject({
      status: 'denied',
      payload: { reason: 'client_token_not_found', path: '/auth/v1/self', status: 401 },
    });
    expect(find('logout', 'back_channel')[0]).toMatchObject({ payload: { provider: 'main', sessions: 0 } });
    for (const event of logged) {
      const ip = (event.metadata as { actor?: { ip?: string } }).actor?.ip;
      expect(ip, JSON.stringify(event)).toMatch(/^(127\.0\.0\.1|::1|::ffff:127\.0\.0\.1)$/);
    }

    // Never a credential or a secret: not in an event, not in the log lines about the sinks.
    const everything = [...lines, ...delivered.map((r) => r.body), ...t.logs.map((l) => JSON.stringify(l))];
    for (const secret of secrets) {
      expect(secret.length).toBeGreaterThan(8);
      for (const text of everything) expect(text.includes(secret), `${secret} in ${text}`).toBe(false);
    }
  });
});
