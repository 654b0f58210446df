/** The command line (`serve`, `validate`, `schema`), loaded by `portcullis.ts` once the compile cache is on. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { loadConfig, loadPluginRegistry } from '../core/config/load.ts';
import { assembleSchema } from '../core/config/schema.ts';
import {
  ConfigError,
  errorCode,
  errorMessage,
  formatIssue,
  LISTED_PROBLEMS,
  omittedLine,
  PluginError,
  SecretResolutionError,
} from '../core/errors.ts';
import { createLogger, SecretScrubber } from '../core/log.ts';
import { loadExternalPlugins } from '../core/plugins/external.ts';
import type { Server } from '../core/server.ts';
import { dropOutputToClosedPipes } from './closed-pipes.ts';

dropOutputToClosedPipes(process.stdout, process.stderr);

/** How long SIGTERM/SIGINT wait for in-flight requests and plugin shutdown before exiting 1 (milliseconds). */
const SHUTDOWN_GRACE_MS = 10_000;

function packageVersion(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'portcullis') return pkg.version ?? '0.0.0';
    }
  }
  return '0.0.0';
}

/** A configuration's problems, one line each, and how many more were found when the listing was cut. */
function configProblems(error: ConfigError): string[] {
  const lines = error.issues.map(formatIssue);
  return error.omitted > 0 ? [...lines, omittedLine(error.omitted)] : lines;
}

/** The lines an operator reads for a failure: one per problem. */
function problemLines(error: unknown): string[] {
  if (error instanceof ConfigError) return configProblems(error);
  return errorMessage(error).split('\n');
}

async function validate(options: { config?: string }): Promise<number> {
  try {
    const loaded = await loadConfig({ file: options.config });
    // Listed as problems are: the first few hundred, then how many more.
    const listed = loaded.warnings.slice(0, LISTED_PROBLEMS);
    for (const warning of listed) process.stderr.write(`warning: ${formatIssue(warning)}\n`);
    const more = loaded.warnings.length - listed.length;
    if (more > 0) process.stderr.write(`warning: ${omittedLine(more, 'warning')}\n`);
    process.stdout.write('valid\n');
    return 0;
  } catch (error) {
    for (const line of problemLines(error)) process.stdout.write(`${line}\n`);
    return 1;
  }
}

async function printSchema(options: { config?: string; plugin?: string[] }): Promise<number> {
  try {
    const registry = await loadPluginRegistry(
      options.config === undefined ? { object: {} } : { file: options.config },
    );
    const problems = await loadExternalPlugins(registry, options.plugin ?? [], process.cwd());
    if (problems.length > 0) {
      for (const { message } of problems) process.stderr.write(`${message}\n`);
      return 1;
    }
    process.stdout.write(`${JSON.stringify(assembleSchema(registry.entries()), null, 2)}\n`);
    return 0;
  } catch (error) {
    for (const line of problemLines(error)) process.stderr.write(`${line}\n`);
    return 1;
  }
}

function failureFields(error: unknown): Record<string, unknown> {
  if (error instanceof ConfigError) return { problems: configProblems(error) };
  if (error instanceof SecretResolutionError) {
    return {
      failures: error.failures.map(({ reference, provider, message }) => ({ reference, provider, message })),
    };
  }
  if (error instanceof PluginError) return { plugin: error.plugin, reason: error.message };
  return { reason: errorMessage(error) };
}

async function serve(options: { config?: string }): Promise<number> {
  // Until the configuration says otherwise, log JSON at info to standard output.
  const bootstrap = createLogger({ level: 'info', encoding: 'json', keys: {} }, new SecretScrubber());
  // Start-up may wait (a secret store retried for secrets.startup_timeout): signals then get their answer too.
  let hangupWhileStarting = false;
  const hangupEarly = () => {
    hangupWhileStarting = true;
    bootstrap.info({ signal: 'SIGHUP' }, 'SIGHUP during start-up: the file is read again once started');
  };
  const stopEarly = (signal: NodeJS.Signals) => {
    bootstrap.info({ signal }, 'stopped during start-up');
    process.exit(0);
  };
  process.on('SIGHUP', hangupEarly);
  process.once('SIGTERM', stopEarly);
  process.once('SIGINT', stopEarly);
  let server: Server;
  try {
    // Imported here so that validate and schema do not load the HTTP server.
    const { startServer } = await import('../core/server.ts');
    server = await startServer({ file: options.config });
  } catch (error) {
    bootstrap.fatal({ code: errorCode(error), ...failureFields(error) }, 'portcullis could not start');
    for (const line of problemLines(error)) process.stderr.write(`${line}\n`);
    return 1;
  } finally {
    process.off('SIGHUP', hangupEarly);
    process.off('SIGTERM', stopEarly);
    process.off('SIGINT', stopEarly);
  }

  return new Promise<number>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      server.runtime.log.info({ signal }, 'shutting down');
      const timer = setTimeout(() => {
        server.runtime.log.error('in-flight requests did not finish in time; exiting');
        resolve(1);
      }, SHUTDOWN_GRACE_MS);
      timer.unref();
      server.close().then(
        () => {
          clearTimeout(timer);
          resolve(0);
        },
        (error: unknown) => {
          server.runtime.log.error({ reason: errorMessage(error) }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    // As nginx does: SIGHUP reloads the configuration file; an invalid one is logged and the running one stays.
    const reload = () => {
      server.runtime.log.info({ signal: 'SIGHUP' }, 'reloading the configuration');
      server.reload().catch((error: unknown) => {
        server.runtime.log.error({ reason: errorMessage(error) }, 'configuration reload failed');
      });
    };
    process.on('SIGHUP', reload);
    if (hangupWhileStarting) reload();
  });
}

const program = new Command()
  .name('portcullis')
  .description("Flipt v2's authentication, from its config.yaml, in front of any service")
  .version(packageVersion());

program
  .command('serve')
  .description('validate the configuration, resolve its secrets and serve')
  .option(
    '-c, --config <file>',
    'configuration file (default: ./config.yaml, then /etc/flipt/config/default.yml)',
  )
  .action(async (options: { config?: string }) => {
    // Exit explicitly: a keep-alive socket a plugin left open must not keep a stopped server's process alive.
    process.exit(await serve(options));
  });

program
  .command('validate')
  .description('check a configuration without starting anything or fetching secrets')
  .option(
    '-c, --config <file>',
    'configuration file (default: ./config.yaml, then /etc/flipt/config/default.yml)',
  )
  .action(async (options: { config?: string }) => {
    process.exitCode = await validate(options);
  });

program
  .command('secrets')
  .description('work with the secret references of a configuration')
  .command('check')
  .description(
    'resolve every ${secret:...} reference once and print each outcome (never a value); exit 1 if any fails',
  )
  .option(
    '-c, --config <file>',
    'configuration file (default: ./config.yaml, then /etc/flipt/config/default.yml)',
  )
  .action(async (options: { config?: string }) => {
    // Imported here so that the other commands do not load the secret stores' code.
    const { checkSecrets } = await import('./secrets-check.ts');
    // Exit explicitly: a store's SDK may keep a socket open for a while after it is closed.
    process.exit(await checkSecrets(options));
  });

program
  .command('schema')
  .description('print the JSON Schema of the configuration, with third-party plugin blocks')
  .option('-c, --config <file>', 'also include the plugins listed under plugins: in this file')
  .option('-p, --plugin <module...>', 'also include these plugin modules')
  .action(async (options: { config?: string; plugin?: string[] }) => {
    process.exitCode = await printSchema(options);
  });

await program.parseAsync();
