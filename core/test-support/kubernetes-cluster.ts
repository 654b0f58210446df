import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JWTPayload } from 'jose';
import { onTestFinished } from 'vitest';
import { createTestCa, type TestCa } from './tls.ts';
import { tempDir } from './tmp.ts';
import { startTokenIssuer, type TokenIssuer } from './token-issuer.ts';

/** The issuer of a cluster's service account tokens. */
export const CLUSTER_ISSUER = 'https://kubernetes.default.svc.cluster.local';

export interface Cluster {
  readonly apiServer: TokenIssuer;
  readonly ca: TestCa;
  readonly tokenPath: string;
  /** The block `authentication.methods.kubernetes` pointing at this cluster. */
  readonly config: Record<string, unknown>;
  /** A projected service account token, shaped as the kubelet mounts them. */
  serviceAccountToken(claims?: JWTPayload & { namespace?: string; name?: string }): Promise<string>;
}

/** A local HTTPS "API server" with a generated CA: discovery and JWKS, answering only the pod's own token. */
export async function cluster(): Promise<Cluster> {
  const dir = tempDir();
  const ca = createTestCa(join(dir, 'ca'));
  const tokenPath = join(dir, 'token');
  writeFileSync(tokenPath, 'pod-token-1\n');
  const apiServer = await startTokenIssuer({
    tls: ca.issue(['localhost'], 'apiserver'),
    issuer: CLUSTER_ISSUER,
    bearer: () => readFileSync(tokenPath, 'utf8').trim(),
  });
  onTestFinished(() => apiServer.close());
  return {
    apiServer,
    ca,
    tokenPath,
    config: {
      enabled: true,
      discovery_url: apiServer.url,
      ca_path: ca.caFile,
      service_account_token_path: tokenPath,
    },
    serviceAccountToken({ namespace = 'applications', name = 'booking', ...claims } = {}) {
      return apiServer.sign({
        aud: [CLUSTER_ISSUER],
        sub: `system:serviceaccount:${namespace}:${name}`,
        jti: randomUUID(),
        nbf: Math.floor(Date.now() / 1000),
        'kubernetes.io': {
          namespace,
          node: { name: 'node-1', uid: randomUUID() },
          pod: { name: `${name}-7d9f8`, uid: 'pod-uid-1' },
          serviceaccount: { name, uid: 'sa-uid-1' },
        },
        ...claims,
      });
    },
  };
}
