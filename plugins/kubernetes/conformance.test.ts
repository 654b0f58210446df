import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { type HarnessServer, methodPluginCases } from '../../conformance/kit/index.ts';
import { describeCases } from '../../conformance/kit/vitest.ts';
import { createTestCa } from '../../core/test-support/tls.ts';
import { tempDirForSuite } from '../../core/test-support/tmp.ts';
import { newIssuerKey, startTokenIssuer } from '../../core/test-support/token-issuer.ts';
import kubernetes from './index.ts';

const CLUSTER_ISSUER = 'https://kubernetes.default.svc.cluster.local';
const POD_TOKEN = 'conformance-pod-token-4e7d21';

// A local HTTPS "API server" with a generated CA: discovery and JWKS, answering only the pod's own token.
const dir = tempDirForSuite();
const ca = createTestCa(join(dir, 'ca'));
const tokenPath = join(dir, 'token');
writeFileSync(tokenPath, `${POD_TOKEN}\n`);
const apiServer = await startTokenIssuer({
  tls: ca.issue(['localhost'], 'apiserver'),
  issuer: CLUSTER_ISSUER,
  bearer: () => POD_TOKEN,
});
// Another issuer's JWT: the jwt method's, not this cluster's.
const otherIssuer = await startTokenIssuer();
afterAll(() => Promise.all([apiServer.close(), otherIssuer.close()]));

const claims = (key?: Awaited<ReturnType<typeof newIssuerKey>>) =>
  apiServer.sign(
    {
      aud: [CLUSTER_ISSUER],
      sub: 'system:serviceaccount:applications:booking',
      jti: randomUUID(),
      'kubernetes.io': {
        namespace: 'applications',
        pod: { name: 'booking-7d9f8', uid: 'pod-uid-1' },
        serviceaccount: { name: 'booking', uid: 'sa-uid-1' },
      },
    },
    key === undefined ? {} : { key },
  );

/** A service account token exchanged for a client token, as a pod does. */
async function exchanged(server: HarnessServer): Promise<string> {
  const response = await server.fetch('/auth/v1/method/kubernetes/serviceaccount', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ serviceAccountToken: await claims() }),
  });
  const { clientToken } = (await response.json()) as { clientToken: string };
  return `Bearer ${clientToken}`;
}

const cases = methodPluginCases(kubernetes, {
  config: { discovery_url: apiServer.url, ca_path: ca.caFile, service_account_token_path: tokenPath },
  goodCredential: exchanged,
  // This cluster's issuer, signed by a key its JWKS does not publish.
  badCredential: `JWT ${await claims(await newIssuerKey())}`,
  foreignCredential: `JWT ${await otherIssuer.sign({ sub: 'svc-elsewhere' })}`,
  secrets: [POD_TOKEN],
});

describeCases('kubernetes: conformance', cases);
