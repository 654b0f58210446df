import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startServe } from '../core/test-support/cli.ts';
import { concurrentLoad, eventually } from '../core/test-support/load.ts';
import { tempDir } from '../core/test-support/tmp.ts';

const FIRST = 'reload-first-static-token-5d2c';
const ADDED = 'reload-added-static-token-9a7e';

const config = (tokens: Record<string, string>) =>
  [
    'log: {level: info}',
    'server: {host: 127.0.0.1, http_port: 0}',
    'authentication:',
    '  required: true',
    '  methods:',
    '    token:',
    '      enabled: true',
    '      storage:',
    '        tokens:',
    ...Object.entries(tokens).flatMap(([name, credential]) => [
      `          ${name}:`,
      `            credential: ${credential}`,
    ]),
    '',
  ].join('\n');

describe('portcullis serve and SIGHUP', () => {
  it('reloads the file: an added static token works at once, without dropping a request; a broken file is refused with every problem and the old configuration keeps serving', async () => {
    const dir = tempDir();
    const file = join(dir, 'config.yaml');
    writeFileSync(file, config({ first: FIRST }));
    const served = await startServe(file);
    const status = async (token: string) =>
      (await fetch(`${served.address}/auth/v1/self`, { headers: { authorization: `Bearer ${token}` } }))
        .status;
    try {
      expect(await status(FIRST)).toBe(200);
      expect(await status(ADDED)).toBe(401);

      // Load with both tokens, all through the reload.
      const traffic = concurrentLoad(async (i) => {
        const token = i % 2 === 0 ? FIRST : ADDED;
        return `${token === FIRST ? 'first' : 'added'} ${await status(token)}`;
      }, 6);
      await new Promise((resolve) => setTimeout(resolve, 200));
      writeFileSync(file, config({ first: FIRST, added: ADDED }));
      served.child.kill('SIGHUP');
      await eventually(async () => (await status(ADDED)) === 200, 5_000);
      await new Promise((resolve) => setTimeout(resolve, 200));
      const outcomes = await traffic.stop();
      // The first token never failed; the added one was refused, then admitted; nothing else happened.
      expect(Object.keys(outcomes).sort()).toEqual(['added 200', 'added 401', 'first 200']);
      expect(outcomes['first 200']).toBeGreaterThan(20);
      expect(served.stdout()).toContain('"msg":"configuration reloaded"');

      // A file with two mistakes: both are logged, and the running configuration stays.
      writeFileSync(
        file,
        config({ first: FIRST, added: ADDED }).replace(
          '  required: true',
          '  required: "nope"\n  session:\n    token_lifetime: a day',
        ),
      );
      served.child.kill('SIGHUP');
      await eventually(async () => served.stdout().includes('configuration reload refused'), 5_000);
      const refused = served
        .stdout()
        .split('\n')
        .filter((line) => line.includes('"level":"error"'));
      expect(refused.join('\n')).toContain('authentication.session.token_lifetime (');
      expect(refused.join('\n')).toContain('authentication.required (');
      expect(await status(FIRST)).toBe(200);
      expect(await status(ADDED)).toBe(200);

      // Not YAML at all: the same.
      writeFileSync(file, 'authentication: [unclosed\n');
      served.child.kill('SIGHUP');
      await eventually(async () => served.stdout().split('configuration reload refused').length === 3, 5_000);
      expect(await status(ADDED)).toBe(200);
    } finally {
      const result = await served.stop();
      expect(result.code).toBe(0);
      expect(result.stdout + result.stderr).not.toContain(FIRST);
      expect(result.stdout + result.stderr).not.toContain(ADDED);
    }
  });
});
