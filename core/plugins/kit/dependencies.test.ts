import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runRecordingModules } from '../../test-support/modules.ts';

/** The packages (under node_modules) that importing `entry` resolves, each name once, sorted. */
async function packagesImportedBy(entry: string): Promise<string[]> {
  const { resolved } = await runRecordingModules(
    `await import(${JSON.stringify(pathToFileURL(entry).href)});`,
  );
  const packages = new Set<string>();
  for (const url of resolved) {
    const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
    if (match?.[1]) packages.add(match[1]);
  }
  return [...packages].sort();
}

describe('portcullis/plugin', () => {
  it('loads no package when imported (jose, for key sets and JWT verification, comes with their first use)', async () => {
    // A plugin author's process imports the kit; the server side (fastify, pino, ioredis, undici, ajv) must not come
    // with it, and jose only once a token is verified or a key set fetched (core/auth/jwks.ts).
    expect(await packagesImportedBy(fileURLToPath(new URL('./index.ts', import.meta.url)))).toEqual([]);
  });
});
