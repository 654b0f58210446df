import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createTestCa } from '../test-support/tls.ts';
import { tempDir } from '../test-support/tmp.ts';
import { createClosableFetch, loadUndici } from './fetch.ts';

const require = createRequire(import.meta.url);

describe('a plugin’s fetch', () => {
  it('takes undici’s fetch and Agent from their own modules, not its index (which loads 109 of them)', async () => {
    const undici = loadUndici();
    // If an undici upgrade moved them, loadUndici falls back to the index: this says so.
    expect(undici.fetch).toBe(require('undici/lib/web/fetch/index.js').fetch);
    expect(undici.Agent).toBe((await import('undici')).Agent);
  });

  it('with a CA of its own, reaches a server that CA signed', async () => {
    const dir = tempDir();
    const ca = createTestCa(dir);
    const leaf = ca.issue(['127.0.0.1']);
    const server = createServer(
      { cert: readFileSync(leaf.certFile), key: readFileSync(leaf.keyFile) },
      (_request, response) => response.end('{"ok":true}'),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const pinned = createClosableFetch({ ca: ca.caPem });
    onTestFinished(() => pinned.close());
    expect(await (await pinned.fetch(url)).json()).toEqual({ ok: true });
    // Without it, the system's trust store does not know that CA.
    const plain = createClosableFetch();
    onTestFinished(() => plain.close());
    await expect(plain.fetch(url)).rejects.toThrow('fetch failed');
  });
});
