import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { everyMethodAuthentication } from '../core/test-support/every-method.ts';
import { median, timeToHealth } from './spawn-health.ts';

const root = join(import.meta.dirname, '..');

/**
 * Start-up time with every built-in method enabled (token, oidc, github, kubernetes, jwt): the median of `runs`
 * starts of `portcullis serve`, spawn to the first 200, after one warm-up. Kubernetes reads its cluster's discovery
 * at start-up, so a local stand-in answers it; the others reach nothing before their first login or token.
 */
export async function startupTime(
  work: string,
  runs: number,
): Promise<{ medianMs: number; baselineMs: number; ratio: number }> {
  const cluster = createServer((request, response) => {
    const base = `http://127.0.0.1:${(cluster.address() as AddressInfo).port}`;
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(
      request.url === '/.well-known/openid-configuration'
        ? JSON.stringify({
            issuer: 'https://kubernetes.default.svc.cluster.local',
            jwks_uri: `${base}/openid/v1/jwks`,
          })
        : '{"keys":[]}',
    );
  });
  await new Promise<void>((resolve) => cluster.listen(0, '127.0.0.1', resolve));
  const discovery = `http://127.0.0.1:${(cluster.address() as AddressInfo).port}`;
  writeFileSync(join(work, 'sa-token'), 'bench-service-account-token\n');
  const pem = join(root, 'schema', 'examples', 'valid', 'internal-ca.pem');
  // Logs go to standard output: that is where the start-up line with the address is read.
  const config = {
    authentication: everyMethodAuthentication('bench-static-token', {
      enabled: true,
      discovery_url: discovery,
      ca_path: pem,
      service_account_token_path: join(work, 'sa-token'),
    }),
  };
  const file = join(work, 'every-method.yaml');
  writeFileSync(file, stringify(config));
  const args = [join(root, 'dist', 'bin', 'portcullis.js'), 'serve', '--config', file];
  const bare = [join(root, 'bench', 'baseline-health.mjs')];
  try {
    // One warm-up each (Node's compile cache, as a restart would have it), then interleaved.
    await timeToHealth(args);
    await timeToHealth(bare);
    const times: number[] = [];
    const baseline: number[] = [];
    for (let i = 0; i < runs; i++) {
      times.push(await timeToHealth(args));
      baseline.push(await timeToHealth(bare));
    }
    const medianMs = Math.round(median(times));
    const baselineMs = Math.round(median(baseline));
    return { medianMs, baselineMs, ratio: Math.round((medianMs / baselineMs) * 100) / 100 };
  } finally {
    cluster.close();
  }
}
