import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/** Prints the packages (under node_modules) that importing a module resolves, one name each. */
const RECORDER = `
import { registerHooks } from 'node:module';
const seen = new Set();
registerHooks({
  resolve(specifier, context, next) {
    const resolved = next(specifier, context);
    const match = /node_modules\\/((?:@[^/]+\\/)?[^/]+)/.exec(resolved.url);
    if (match) seen.add(match[1]);
    return resolved;
  },
});
await import(process.argv[1]);
process.stdout.write(JSON.stringify([...seen].sort()));
`;

function packagesImportedBy(entry: string): string[] {
  const out = execFileSync(
    process.execPath,
    [
      '--experimental-strip-types',
      '--disable-warning=ExperimentalWarning',
      '--input-type=module',
      '-e',
      RECORDER,
      entry,
    ],
    { encoding: 'utf8' },
  );
  return JSON.parse(out) as string[];
}

describe('portcullis/plugin', () => {
  it('loads no package beyond what its helpers need (jose, for key sets and JWT verification)', () => {
    // A plugin author's process imports the kit; the server side (fastify, pino, ioredis, undici, ajv) must not come
    // with it.
    expect(packagesImportedBy(fileURLToPath(new URL('./index.ts', import.meta.url)))).toEqual(['jose']);
  });
});
