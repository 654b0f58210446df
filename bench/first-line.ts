import type { ChildProcess } from 'node:child_process';

/** The first line a bench process prints, as JSON (a server's port, a load's results); rejects if it exits first. */
export function firstLine(child: ChildProcess): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let seen = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      seen += chunk;
      const line = seen.split('\n')[0];
      if (seen.includes('\n') && line !== undefined) resolve(JSON.parse(line) as Record<string, unknown>);
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code} before it answered: ${seen}`)));
  });
}
