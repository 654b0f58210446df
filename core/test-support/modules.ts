import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Put before the script: records every module the loader resolves (import and require alike). */
const RECORDER = `
import { registerHooks as __registerHooks } from 'node:module';
const __resolved = new Set();
__registerHooks({
  resolve(specifier, context, next) {
    const found = next(specifier, context);
    __resolved.add(found.url);
    return found;
  },
});
process.on('exit', () => process.stderr.write('\\n${'@@'}resolved ' + JSON.stringify([...__resolved]) + '\\n'));
`;

/** What {@link runRecordingModules} saw. */
export interface RecordedRun {
  /** The URL of every module resolved, in the order first resolved. */
  readonly resolved: readonly string[];
  /** What the script printed on standard output. */
  readonly stdout: string;
}

/**
 * Runs `script` (an ES module; TypeScript is stripped) in a fresh Node process whose module loader records every
 * module resolved: what starting something really loads, with no cache of this process's in the way.
 */
export async function runRecordingModules(
  script: string,
  options: { readonly env?: NodeJS.ProcessEnv; readonly args?: readonly string[] } = {},
): Promise<RecordedRun> {
  const { stdout, stderr } = await run(
    process.execPath,
    [
      '--experimental-strip-types',
      '--disable-warning=ExperimentalWarning',
      '--input-type=module',
      '-e',
      `${RECORDER}\n${script}`,
      ...(options.args ?? []),
    ],
    { env: options.env ?? process.env, maxBuffer: 64 * 1024 * 1024 },
  );
  const line = stderr.split('\n').find((text) => text.startsWith('@@resolved '));
  if (line === undefined) throw new Error(`the script did not end normally; it wrote: ${stderr}`);
  return { resolved: JSON.parse(line.slice('@@resolved '.length)) as string[], stdout };
}

/**
 * The names of `table` (a name, and path fragments of the modules it loads: `/node_modules/<package>/`) that some
 * URL of `urls` falls under, in the table's order.
 */
export function namesLoaded(
  urls: readonly string[],
  table: Readonly<Record<string, readonly string[]>>,
): string[] {
  return Object.entries(table)
    .filter(([, paths]) => urls.some((url) => paths.some((path) => url.includes(path))))
    .map(([name]) => name);
}
