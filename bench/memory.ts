import { spawn } from 'node:child_process';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');

/**
 * Heap taken by `count` live authentications in the memory store, in MB: measured in a process of its own with
 * garbage collection forced before and after, each authentication an OIDC session with a realistic metadata map
 * (provider, email, name, picture, subject, and the claims as JSON).
 */
export async function measureMemory(count: number): Promise<number> {
  const child = spawn(
    process.execPath,
    [
      '--expose-gc',
      '--experimental-strip-types',
      '--disable-warning=ExperimentalWarning',
      join(root, 'bench', 'memory-child.ts'),
      String(count),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk;
  });
  const code = await new Promise((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`the memory measurement exited with ${String(code)}: ${output}`);
  return (JSON.parse(output) as { mb: number }).mb;
}
