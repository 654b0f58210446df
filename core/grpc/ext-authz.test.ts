import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { describe, expect, it, onTestFinished } from 'vitest';
import { serveForTest, type TestServer } from '../test-support/server.ts';

/** Envoy's ext_authz Check against `portcullis serve`'s gRPC port, as Envoy's filter calls it. */

const PROTO_ROOT = fileURLToPath(new URL('./proto/', import.meta.url));

interface HeaderOption {
  header: { key: string; value: string };
  appendAction: string;
}
interface CheckResponse {
  status: { code: number; message: string };
  httpResponse: 'okResponse' | 'deniedResponse';
  okResponse?: { headers: HeaderOption[]; headersToRemove: string[] };
  deniedResponse?: { status: { code: number }; headers: HeaderOption[]; body: string };
}

function authorization(t: TestServer) {
  const loaded = grpc.loadPackageDefinition(
    protoLoader.loadSync('envoy/service/auth/v3/external_auth.proto', {
      keepCase: false,
      enums: String,
      defaults: true,
      oneofs: true,
      includeDirs: [PROTO_ROOT],
    }),
  );
  const v3 = (((loaded.envoy as grpc.GrpcObject).service as grpc.GrpcObject).auth as grpc.GrpcObject)
    .v3 as grpc.GrpcObject;
  const Client = v3.Authorization as grpc.ServiceClientConstructor;
  const client = new Client(t.server.grpcAddress, grpc.credentials.createInsecure());
  onTestFinished(() => client.close());
  return (http: { method?: string; path: string; headers?: Record<string, string> }) =>
    new Promise<CheckResponse>((resolve, reject) =>
      (client as unknown as Record<string, (...args: unknown[]) => void>).Check?.(
        { attributes: { request: { http: { method: 'GET', host: 'app.example', ...http } } } },
        (error: grpc.ServiceError | null, value: CheckResponse) => (error ? reject(error) : resolve(value)),
      ),
    );
}

const headersOf = (options: HeaderOption[] | undefined) =>
  Object.fromEntries((options ?? []).map((option) => [option.header.key, option.header.value]));

const config = (extra: Record<string, unknown> = {}) => ({
  authentication: {
    required: true,
    methods: { token: { enabled: true, storage: { tokens: { ci: { credential: 'ci-secret' } } } } },
    ...extra,
  },
});

describe('gRPC: Envoy ext_authz Check', () => {
  it('allows a valid credential with the identity headers to set, and removes what the client may not pass on', async () => {
    const t = await serveForTest(config());
    const check = authorization(t);
    const allowed = await check({
      path: '/reports/q3?x=1',
      headers: { authorization: 'Bearer ci-secret', 'x-auth-request-email': 'forged@example.com' },
    });
    expect(allowed.status.code).toBe(grpc.status.OK);
    expect(allowed.httpResponse).toBe('okResponse');
    expect(headersOf(allowed.okResponse?.headers)).toEqual({
      'x-auth-request-id': 'ci',
      'x-auth-request-method': 'METHOD_TOKEN',
      'x-auth-request-user': 'ci',
    });
    expect(new Set(allowed.okResponse?.headers.map((option) => option.appendAction))).toEqual(
      new Set(['OVERWRITE_IF_EXISTS_OR_ADD']),
    );
    expect(allowed.okResponse?.headersToRemove).toEqual(
      expect.arrayContaining(['authorization', 'x-auth-request-email']),
    );
  });

  it('denies a missing or wrong credential with Flipt’s 401 for Envoy to send', async () => {
    const t = await serveForTest(config());
    const check = authorization(t);
    for (const headers of [
      {},
      { authorization: 'Bearer wrong' },
      { authorization: 'Basic Y2k6Y2k=' },
    ] as Record<string, string>[]) {
      const refused = await check({ path: '/reports', headers });
      expect(refused.status).toEqual({
        code: grpc.status.UNAUTHENTICATED,
        message: 'request was not authenticated',
      });
      expect(refused.httpResponse).toBe('deniedResponse');
      expect(refused.deniedResponse?.status.code).toBe(401);
      expect(headersOf(refused.deniedResponse?.headers)).toEqual({
        'content-type': 'application/json',
        'www-authenticate': 'request was not authenticated',
      });
      expect(JSON.parse(refused.deniedResponse?.body ?? '')).toEqual({
        code: 16,
        message: 'request was not authenticated',
        details: [],
      });
    }
  });

  it('excluded sections pass; a cross-origin POST is refused with Go’s 403 when csrf.key is set', async () => {
    const t = await serveForTest(config({ exclude: { evaluation: true }, session: { csrf: { key: 'k' } } }));
    const check = authorization(t);
    expect((await check({ path: '/evaluate/v1/boolean' })).status.code).toBe(grpc.status.OK);
    const crossSite = await check({
      method: 'POST',
      path: '/reports',
      headers: { authorization: 'Bearer ci-secret', 'sec-fetch-site': 'cross-site' },
    });
    expect(crossSite.status.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(crossSite.deniedResponse?.status.code).toBe(403);
    expect(crossSite.deniedResponse?.body).toBe('cross-origin request detected from Sec-Fetch-Site header');
  });
});
