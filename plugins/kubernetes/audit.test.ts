import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { scrape, value } from '../../core/test-support/exposition.ts';
import { cluster } from '../../core/test-support/kubernetes-cluster.ts';
import { serveForTest } from '../../core/test-support/server.ts';
import { tempDir } from '../../core/test-support/tmp.ts';

/** A service account exchange is a login: refused (401) and accepted alike are counted and audited (a fresh review of issue 20 found neither was). */
it('counts and records a service account exchange as a login, refused and accepted', async () => {
  const c = await cluster();
  const file = join(tempDir(), 'audit.log');
  const t = await serveForTest({
    authentication: { required: true, methods: { kubernetes: c.config } },
    audit: { sinks: { log: { enabled: true, file } } },
  });
  const exchange = (serviceAccountToken: string) =>
    t.fetch('/auth/v1/method/kubernetes/serviceaccount', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ serviceAccountToken }),
    });
  expect((await exchange('not.a.jwt')).status).toBe(401);
  const token = await c.serviceAccountToken();
  const accepted = await exchange(token);
  expect(accepted.status).toBe(200);
  const { clientToken } = (await accepted.json()) as { clientToken: string };
  const samples = await scrape(t.fetch);
  await t.server.close();
  const logins = (outcome: string) =>
    value(samples, 'portcullis_logins_total', { method: 'METHOD_KUBERNETES', outcome });
  expect(logins('refused')).toBe(1);
  expect(value(samples, 'portcullis_logins_total', { reason: 'service_account_refused' })).toBe(1);
  expect(logins('succeeded')).toBe(1);
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const events = text
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { type: string; action: string; payload: Record<string, unknown> });
  expect(events.map((e) => `${e.type}:${e.action}`)).toEqual(['login:refused', 'login:succeeded']);
  expect(events[0]?.payload).toEqual({ method: 'METHOD_KUBERNETES', reason: 'service_account_refused' });
  for (const secret of [token, clientToken]) expect(text).not.toContain(secret);
});
