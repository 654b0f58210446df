import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { type Sample, scrape, value } from '../test-support/exposition.ts';
import { bearer, serveForTest, type TestServer } from '../test-support/server.ts';
import { tempDir } from '../test-support/tmp.ts';

const FETCHES = 'portcullis_secret_fetches_total';
const REFRESHES = 'portcullis_secret_refreshes_total';

/** Scrapes `t` until `check` holds (3 s at the most); returns the samples that satisfied it. */
async function until(t: TestServer, check: (samples: Sample[]) => boolean, what: string) {
  const started = Date.now();
  for (;;) {
    const samples = await scrape(t.fetch);
    if (check(samples)) return samples;
    if (Date.now() - started > 3_000) throw new Error(`${what}: not within 3 s`);
    await sleep(25);
  }
}

describe('secret store metrics', () => {
  it('counts and times fetches from the file store, and each refresh round as unchanged, changed or failed', async () => {
    const root = tempDir();
    let n = 0;
    /** Replaces the file atomically, as a secret volume would. */
    const write = (text: string) => {
      n += 1;
      const staging = join(root, `.staging-${n}`);
      writeFileSync(staging, text);
      renameSync(staging, join(root, 'token'));
    };
    write('first-value-of-the-secret');
    const t = await serveForTest({
      secrets: { refresh_interval: '100ms', providers: { file: { enabled: true, base_path: root } } },
      authentication: {
        required: true,
        methods: {
          token: { enabled: true, storage: { tokens: { ci: { credential: '${secret:file:token}' } } } },
        },
      },
    });
    // Start-up fetched it once, and nothing failed.
    const started = await scrape(t.fetch);
    expect(value(started, FETCHES, { provider: 'file', outcome: 'ok' })).toBeGreaterThanOrEqual(1);
    expect(value(started, FETCHES, { outcome: 'error' })).toBe(0);

    await until(t, (s) => value(s, REFRESHES, { outcome: 'unchanged' }) >= 1, 'an unchanged round');
    write('second-value-of-the-secret');
    await until(t, (s) => value(s, REFRESHES, { outcome: 'changed' }) >= 1, 'a changed round');
    expect((await t.fetch('/auth/v1/self', { headers: bearer('second-value-of-the-secret') })).status).toBe(
      200,
    );

    // A read that fails (the file is gone): the round failed, the fetch is an error, the last good value stays.
    rmSync(join(root, 'token'));
    const failed = await until(t, (s) => value(s, REFRESHES, { outcome: 'failed' }) >= 1, 'a failed round');
    expect(value(failed, FETCHES, { provider: 'file', outcome: 'error' })).toBeGreaterThanOrEqual(1);
    expect(value(failed, 'portcullis_secret_fetch_seconds_count', { provider: 'file' })).toBe(
      value(failed, FETCHES, { provider: 'file' }),
    );
    expect((await t.fetch('/auth/v1/self', { headers: bearer('second-value-of-the-secret') })).status).toBe(
      200,
    );
    // Only the provider's name is a label value: never the secret, never its path.
    const text = await (await t.fetch('/metrics')).text();
    expect(text).not.toContain('value-of-the-secret');
    expect(text).not.toContain(root);
    expect(text).not.toMatch(/provider="[^f]/);
  });
});
