/**
 * `npm run conformance [-- <vitest filters>]`: the container suites, end to end through portcullis's own image.
 *
 * 1. the engine at `DOCKER_HOST`, or a private dockerd (stopped again at the end);
 * 2. what a killed run left behind is removed (by label);
 * 3. the images are built where missing (cached by the digest of their inputs), the time printed;
 * 4. vitest runs `conformance/suites/*.suite.ts` with the images' tags in its environment;
 * 5. everything this run created is removed, also after a failure or Ctrl-C; the summary table is printed and the
 *    JSON report written (`PORTCULLIS_CONFORMANCE_REPORT`, by default `.tmp/conformance/report.json`).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { conformanceHome, type Engine, openEngine } from './engine/docker-engine.ts';
import { runId, sweep } from './engine/labels.ts';
import { removeImagesExcept } from './images/build.ts';
import { repoRoot } from './images/context.ts';
import { ensureImages, imageSpecs } from './images/images.ts';
import { type CaseResult, type ConformanceReport, formatTable } from './report.ts';

const started = Date.now();
const run = runId();
const idp = process.env.CONFORMANCE_DEX_IMAGE ? 'dex' : 'test-idp';
const reportFile =
  process.env.PORTCULLIS_CONFORMANCE_REPORT ?? join(repoRoot, '.tmp', 'conformance', 'report.json');
const casesFile = join(repoRoot, '.tmp', 'conformance', `cases-${process.pid}.json`);
const say = (text: string) => console.log(`conformance: ${text}`);

let engine: Engine | undefined;
let child: ReturnType<typeof spawn> | undefined;
let stopping: Promise<void> | undefined;
let usedImages: string[] = [];

/** Removes what this run created and stops a private engine; safe to call twice (the second waits for the first). */
function cleanUp(): Promise<void> {
  stopping ??= (async () => {
    if (engine === undefined) return;
    try {
      const swept = await sweep(engine.docker, run);
      const left = await sweep(engine.docker);
      const removed = swept.containers.length + left.containers.length;
      if (removed > 0)
        say(`removed ${removed} container(s) and ${swept.networks.length + left.networks.length} network(s)`);
    } catch (error) {
      console.error(`conformance: removing this run's containers failed: ${(error as Error).message}`);
    }
    // The last run on the engine keeps only the images it used (other runs' may differ, so never while one runs).
    const keep = new Set(usedImages);
    await engine.stop((docker) => removeImagesExcept(docker, keep));
  })();
  return stopping;
}

/** Resolves when vitest has exited, or after `ms`. */
const childGone = (ms: number) =>
  new Promise<void>((resolve) => {
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(resolve, ms);
    child.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });

let signalled: NodeJS.Signals | undefined;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (signalled !== undefined) return;
    signalled = signal;
    say(`${signal}: stopping the suites and removing what they created`);
    child?.kill('SIGTERM');
    // vitest first, so that no container is created after the sweep; then the sweep.
    void childGone(10_000)
      .then(cleanUp)
      .finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  });
}

async function main(): Promise<number> {
  engine = await openEngine();
  say(`engine ${engine.host}${engine.private ? ' (private dockerd, stopped at the end)' : ''}`);
  const leftovers = await sweep(engine.docker);
  if (leftovers.containers.length + leftovers.networks.length > 0) {
    say(`removed what an earlier run left: ${[...leftovers.containers, ...leftovers.networks].join(', ')}`);
  }

  // Against Dex, the test IdP's image is not needed.
  const wanted =
    idp === 'dex'
      ? imageSpecs()
          .filter((spec) => spec.name !== 'test-idp')
          .map((spec) => spec.name)
      : undefined;
  const images = await ensureImages(engine.docker, join(conformanceHome(), 'work'), wanted);
  usedImages = [...images.tags.values()];
  const built = images.results.filter((image) => image.built).map((image) => image.name);
  const reused = images.results.filter((image) => !image.built).map((image) => image.name);
  say(
    `images built in ${(images.ms / 1000).toFixed(1)} s: ${built.length === 0 ? 'none, all reused' : `built ${built.join(', ')}`}` +
      (built.length > 0 && reused.length > 0 ? `; reused ${reused.join(', ')}` : ''),
  );
  if (idp === 'dex') say(`OpenID provider: Dex (${process.env.CONFORMANCE_DEX_IMAGE})`);
  else say('OpenID provider: the test IdP (oidc-provider); set CONFORMANCE_DEX_IMAGE to run Dex');

  mkdirSync(dirname(casesFile), { recursive: true });
  const vitest = join(repoRoot, 'node_modules', 'vitest', 'vitest.mjs');
  const code = await new Promise<number>((resolve) => {
    child = spawn(
      process.execPath,
      [vitest, 'run', '--config', 'conformance/vitest.config.ts', ...process.argv.slice(2)],
      {
        cwd: repoRoot,
        // If this process is killed outright, vitest notices it was re-parented and stops too
        // (conformance/suites/support/orphan.ts) instead of creating containers for nobody.
        stdio: 'inherit',
        env: {
          ...process.env,
          DOCKER_HOST: engine?.host,
          // Ryuk's image cannot be pulled here: what the suites create is removed by label instead.
          TESTCONTAINERS_RYUK_DISABLED: 'true',
          // This machine has /.dockerenv, which would make testcontainers reach containers through a bridge gateway.
          TESTCONTAINERS_HOST_OVERRIDE: process.env.TESTCONTAINERS_HOST_OVERRIDE ?? '127.0.0.1',
          PORTCULLIS_CONFORMANCE_RUN: run,
          PORTCULLIS_CONFORMANCE_IMAGES: JSON.stringify(Object.fromEntries(images.tags)),
          PORTCULLIS_CONFORMANCE_IDP: idp,
          PORTCULLIS_CONFORMANCE_CASES: casesFile,
        },
      },
    );
    child.on('close', (status) => resolve(status ?? 1));
  });

  // An interrupted run writes no report: the last one stays.
  if (signalled !== undefined) return signalled === 'SIGINT' ? 130 : 143;
  const cases: CaseResult[] = existsSync(casesFile) ? JSON.parse(readFileSync(casesFile, 'utf8')) : [];
  rmSync(casesFile, { force: true });
  const report: ConformanceReport = {
    idp,
    filters: process.argv.slice(2),
    startedAt: new Date(started).toISOString(),
    seconds: Math.round((Date.now() - started) / 1000),
    images: { built, reused, seconds: Math.round(images.ms / 100) / 10 },
    cases,
  };
  const count = (result: CaseResult['result']) => cases.filter((entry) => entry.result === result).length;
  // A run in which no case ran leaves the last report alone.
  if (count('passed') + count('failed') > 0) {
    mkdirSync(dirname(reportFile), { recursive: true });
    writeFileSync(reportFile, `${JSON.stringify(report, null, 2)}\n`);
  }
  console.log(`\n${formatTable(cases)}\n`);
  say(
    `${cases.length} cases against ${idp}: ${count('passed')} passed, ${count('failed')} failed, ${count('skipped')} ` +
      `skipped; ${report.seconds} s in all (images ${report.images.seconds} s)` +
      (count('passed') + count('failed') > 0 ? `; report in ${reportFile}` : ''),
  );
  // vitest's status decides (an error outside any case fails the run too); a failed case always fails it, and so
  // does a run in which no case ran at all (a name filter that matched none).
  if (code === 0 && count('failed') > 0) return 1;
  if (code === 0 && count('passed') === 0) {
    say('no case ran');
    return 1;
  }
  return code;
}

let status = 1;
try {
  status = await main();
} catch (error) {
  console.error(`conformance: ${(error as Error).message}`);
  status = 1;
} finally {
  await cleanUp();
}
process.exit(status);
