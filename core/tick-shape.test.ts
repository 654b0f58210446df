import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { keptTickObject } from './tick-shape.ts';

const run = promisify(execFile);
const MODULE = pathToFileURL(join(import.meta.dirname, 'tick-shape.ts')).href;

/**
 * A child process that schedules ticks, lets full collections run while no tick object is alive (the idle moments of
 * a server), at once and again a while later, schedules more, and prints V8's own view of `process.nextTick` (its
 * feedback slots), with `--allow-natives-syntax`. `pinned`: whether it imports core/tick-shape.ts first.
 */
const CHILD = `
import { executionAsyncResource } from 'node:async_hooks';
const pinned = process.argv[1] === 'pinned';
const tickShape = pinned ? await import(${JSON.stringify(MODULE)}) : undefined;
const noop = () => {};
const idle = () => new Promise((resolve) => setImmediate(resolve));
const collectWhileIdle = async () => {
  for (let round = 0; round < 4; round++) {
    for (let i = 0; i < 100; i++) process.nextTick(noop);
    await idle();
    globalThis.gc();
  }
};
await collectWhileIdle();
// Again a while later: the object is kept for the life of the process, not for a while.
await new Promise((resolve) => setTimeout(resolve, 1500));
await collectWhileIdle();
for (let i = 0; i < 100; i++) process.nextTick(noop);
const fresh = await new Promise((resolve) => process.nextTick(() => resolve(executionAsyncResource())));
await idle();
%DebugPrint(process.nextTick);
if (pinned) {
  const kept = tickShape.keptTickObject();
  console.log('kept:', kept !== undefined);
  if (kept !== undefined) console.log('same shape:', %HaveSameMap(kept, fresh));
}
`;

async function child(
  mode: 'pinned' | 'unpinned',
): Promise<{ slots: string[]; kept: string | undefined; sameShape: string | undefined }> {
  const { stdout } = await run(
    process.execPath,
    [
      '--expose-gc',
      '--allow-natives-syntax',
      '--experimental-strip-types',
      '--disable-warning=ExperimentalWarning',
      '--input-type=module',
      '-e',
      CHILD,
      mode,
    ],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  return {
    slots: [...stdout.matchAll(/slot #\d+ DefineKeyedOwnPropertyInLiteral (\w+)/g)].map((m) => m[1] ?? ''),
    kept: /kept: (\w+)/.exec(stdout)?.[1],
    sameShape: /same shape: (\w+)/.exec(stdout)?.[1],
  };
}

// The rule only applies while Node builds its tick object with computed keys (Node 22, lib/internal/process/
// task_queues.js); a Node that does not has nothing to keep.
const computedKeys = process.nextTick.toString().includes('[async_id_symbol]');

describe.skipIf(!computedKeys)('the tick object kept alive (core/tick-shape.ts)', () => {
  it('is the first module the package entry and the command line load', () => {
    for (const [file, specifier] of [
      ['index.ts', './core/tick-shape.ts'],
      ['bin/portcullis.ts', '../core/tick-shape.ts'],
    ] as const) {
      const source = readFileSync(join(import.meta.dirname, '..', file), 'utf8');
      const first = /^(?:import|export)\b[^;]*?(?:from\s+)?'([^']+)';/m.exec(source)?.[1];
      expect(first, file).toBe(specifier);
    }
  });

  it('is one of process.nextTick’s tick objects, from the first tick', async () => {
    await new Promise((resolve) => process.nextTick(resolve));
    const kept = keptTickObject() as Record<string, unknown>;
    expect(typeof kept.callback).toBe('function');
    expect('args' in kept).toBe(true);
    expect(Object.getOwnPropertySymbols(kept).length).toBeGreaterThanOrEqual(2);
  });

  it('keeps process.nextTick on its fast path across full collections while no tick is alive', async () => {
    const pinned = await child('pinned');
    expect(pinned.kept).toBe('true');
    expect(pinned.slots.length).toBeGreaterThanOrEqual(2);
    expect(pinned.slots).toEqual(pinned.slots.map(() => 'MONOMORPHIC'));
    expect(pinned.sameShape).toBe('true');
  });

  it('keeps nothing when process.nextTick was replaced before it loaded (its replacement makes no tick object)', async () => {
    const script = `
      process.nextTick = (callback, ...args) => setImmediate(() => callback(...args));
      const { keptTickObject } = await import(${JSON.stringify(MODULE)});
      setTimeout(() => console.log('kept:', keptTickObject() !== undefined), 50);
    `;
    const { stdout } = await run(process.execPath, [
      '--experimental-strip-types',
      '--disable-warning=ExperimentalWarning',
      '--input-type=module',
      '-e',
      script,
    ]);
    expect(stdout.trim()).toBe('kept: false');
  });

  it('without it, the same collections leave process.nextTick’s keys megamorphic (what it prevents)', async () => {
    const unpinned = await child('unpinned');
    expect(unpinned.slots).toContain('MEGAMORPHIC');
  });
});
