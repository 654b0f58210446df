import { execFile, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../core/test-support/load.ts';
import { runLabels } from '../engine/labels.ts';
import { isAlive } from '../engine/process.ts';
import { repoRoot } from '../images/context.ts';
import { image } from './support/containers.ts';
import { step } from './support/step.ts';

const composeFile = join(repoRoot, 'docker', 'compose.yaml');

/** One check of the compose file's header: `curl -i [-H 'Name: value']… URL  # <status>[, what the body shows]`. */
interface HeaderCheck {
  readonly line: string;
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly status: number;
  /** The identity headers must reach the upstream (the line says `X-Auth-Request-*`). */
  readonly identity: boolean;
}

/** The `curl` lines of docker/compose.yaml's header comment, which tell a user what to expect. */
function headerChecks(): HeaderCheck[] {
  const lines = readFileSync(composeFile, 'utf8')
    .split('\n')
    .filter((line) => /^#\s+curl /.test(line));
  return lines.map((line) => {
    const [command = '', expectation = ''] = line.replace(/^#\s+/, '').split(/\s+#\s+/);
    const words = [...command.matchAll(/'([^']*)'|(\S+)/g)].map((match) => match[1] ?? match[2] ?? '');
    const headers: Record<string, string> = {};
    let url = '';
    for (let at = 1; at < words.length; at++) {
      const word = words[at] ?? '';
      if (word === '-H') {
        const [name = '', ...value] = (words[++at] ?? '').split(':');
        headers[name.trim()] = value.join(':').trim();
      } else if (!word.startsWith('-')) url = word;
    }
    const status = Number(/^(\d{3})/.exec(expectation)?.[1]);
    if (url === '' || Number.isNaN(status))
      throw new Error(`docker/compose.yaml: cannot read the check "${line}"`);
    return { line, url, headers, status, identity: expectation.includes('X-Auth-Request-') };
  });
}

const hasCompose = spawnSync('docker-compose', ['--version']).status === 0;
const run = promisify(execFile);

const title = hasCompose
  ? 'docker/compose.yaml'
  : 'docker/compose.yaml (skipped: docker-compose is not installed; Debian: apt-get install docker-compose)';

describe.skipIf(!hasCompose)(title, () => {
  const project = `portcullis-conformance-${process.pid}`;
  let dir: string;
  let compose: (...args: string[]) => Promise<string>;

  beforeAll(async () => {
    // A folder named for this process; those of runs that were killed are removed here.
    for (const name of readdirSync(tmpdir())) {
      const pid = Number(/^portcullis-compose-(\d+)$/.exec(name)?.[1]);
      if (!Number.isNaN(pid) && !isAlive(pid)) rmSync(join(tmpdir(), name), { recursive: true, force: true });
    }
    dir = join(tmpdir(), `portcullis-compose-${process.pid}`);
    mkdirSync(dir, { recursive: true });
    const labels = runLabels();
    const service = (name: string, environment: Record<string, string> = {}) => ({
      image: image(name),
      labels,
      ...(Object.keys(environment).length > 0 && { environment }),
    });
    // The registry's images replaced by the suite's: the upstream answers on 80 as traefik/whoami does.
    const override = {
      services: {
        portcullis: service('portcullis'),
        upstream: service('upstream', { PORT: '80' }),
        redis: service('redis'),
      },
      networks: { default: { labels } },
    };
    const overrideFile = join(dir, 'override.yaml');
    writeFileSync(overrideFile, JSON.stringify(override));
    compose = async (...args: string[]) => {
      const { stdout, stderr } = await run(
        'docker-compose',
        ['--project-name', project, '--file', composeFile, '--file', overrideFile, ...args],
        { env: process.env, maxBuffer: 16 << 20 },
      ).catch((error: Error & { stderr?: string }) => {
        throw new Error(`docker-compose ${args.join(' ')} failed: ${error.stderr ?? error.message}`);
      });
      return stdout + stderr;
    };
    await step('docker-compose up', () => compose('up', '--detach', '--no-build'));
    await step('portcullis answers /health', async () => {
      const healthy = async () =>
        (await fetch('http://localhost:8080/health').then(
          (response) => response.status,
          () => 0,
        )) === 200;
      await eventually(healthy, 60_000, 'a 200 from /health').catch(async (error: Error) => {
        throw new Error(`${error.message}:\n${await compose('logs', '--tail', '30')}`);
      });
    });
  });
  afterAll(async () => {
    await compose?.('down', '--volumes', '--remove-orphans', '--timeout', '2');
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  const checks = headerChecks();
  it('has checks in its header comment', () => {
    expect(checks.length).toBeGreaterThanOrEqual(2);
  });
  for (const check of checks) {
    it(`answers ${check.line.replace(/^#\s+/, '').replace(/\s+/g, ' ')}`, async () => {
      const response = await fetch(`http://${check.url.replace(/^https?:\/\//, '')}`, {
        headers: check.headers,
      });
      const body = await response.text();
      expect(response.status, `${check.url}: ${body.slice(0, 200)}`).toBe(check.status);
      if (check.identity)
        expect(body.toLowerCase(), 'the upstream saw the identity headers').toContain('x-auth-request-id');
    });
  }
});
