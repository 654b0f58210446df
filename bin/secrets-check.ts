/** `portcullis secrets check`: resolves every secret reference once and says how each went, never a value. */
import { loadConfig } from '../core/config/load.ts';
import { ConfigError, ErrorCodes, errorCode, errorMessage, formatIssue } from '../core/errors.ts';
import { createLogger, SecretScrubber } from '../core/log.ts';
import { fetchReferences, groupReferences } from '../core/references/resolve.ts';
import { openSecretSources } from '../core/runtime.ts';

/** One line per reference on standard output (`<reference> ok`, or `<reference> <code>: <why>`); 1 when any failed. */
export async function checkSecrets(options: { config?: string }): Promise<number> {
  const scrubber = new SecretScrubber();
  let loaded: Awaited<ReturnType<typeof loadConfig>>;
  try {
    loaded = await loadConfig({ file: options.config });
  } catch (error) {
    const lines = error instanceof ConfigError ? error.issues.map(formatIssue) : [errorMessage(error)];
    for (const line of lines) process.stdout.write(`${line}\n`);
    return 1;
  }
  const uses = groupReferences(loaded.references);
  if (uses.length === 0) {
    process.stdout.write('no secret references\n');
    return 0;
  }
  // What the stores log (a retry, a warning) goes to standard error, scrubbed of every value fetched.
  const log = createLogger({ level: 'warn', encoding: 'json', keys: {} }, scrubber, {
    write: (line: string) => process.stderr.write(line),
  });
  const unopened = new Map<string, string>();
  const sources = await openSecretSources(loaded, log, {
    onFailure: (name, error) =>
      unopened.set(
        name,
        `${errorCode(error) ?? ErrorCodes.SECRET_PROVIDER}: secret provider "${name}" could not start: ${errorMessage(error)}`,
      ),
  });
  try {
    const outcomes = await fetchReferences(uses, sources.value, {
      timeoutMs: loaded.config.secrets.fetch_timeout,
    });
    scrubber.add([...outcomes.values()].flatMap((outcome) => (outcome.ok ? [outcome.value] : [])));
    let failed = 0;
    for (const { reference } of uses) {
      const outcome = outcomes.get(reference.raw);
      let line: string;
      if (outcome?.ok) line = `${reference.raw} ok`;
      else {
        failed += 1;
        const failure = outcome?.ok === false ? outcome.failure : undefined;
        line = `${reference.raw} ${unopened.get(reference.provider) ?? `${failure?.code}: ${failure?.message}`}`;
      }
      process.stdout.write(`${scrubber.scrub(line).replace(/[\r\n]+/g, ' ')}\n`);
    }
    return failed === 0 ? 0 : 1;
  } finally {
    await sources.release();
    await log.flush();
  }
}
