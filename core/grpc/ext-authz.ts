import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { createExclusionMatcher } from '../auth/exclusions.ts';
import { httpStatus, UNAUTHENTICATED_MESSAGE } from '../http/errors.ts';
import { identityHeaderNames } from '../http/identity.ts';
import { createJudge } from '../http/judge.ts';
import { CallClient } from '../observe/client.ts';
import type { Runtime } from '../runtime.ts';
import type { ServiceBinding } from './auth-services.ts';
import { PROTO_OPTIONS } from './messages.ts';

/** Our subset of Envoy's ext_authz proto (its package, names and field numbers), beside this module. */
const PROTO_ROOT = fileURLToPath(new URL('./proto/', import.meta.url));
const EXT_AUTHZ_PROTO = 'envoy/service/auth/v3/external_auth.proto';

let definition: grpc.ServiceDefinition | undefined;

/** `envoy.service.auth.v3.Authorization`'s definition, loaded once. */
export function authorizationDefinition(): grpc.ServiceDefinition {
  if (definition === undefined) {
    const loaded = grpc.loadPackageDefinition(
      protoLoader.loadSync(EXT_AUTHZ_PROTO, { ...PROTO_OPTIONS, includeDirs: [PROTO_ROOT] }),
    );
    const v3 = ((((loaded.envoy as grpc.GrpcObject).service as grpc.GrpcObject).auth as grpc.GrpcObject).v3 ??
      {}) as grpc.GrpcObject;
    definition = (v3.Authorization as grpc.ServiceClientConstructor).service;
  }
  return definition;
}

/** The request Envoy asks about (the parts read here). */
interface CheckRequest {
  readonly attributes?: {
    /** The downstream connection's address as Envoy saw it. */
    readonly source?: { readonly address?: { readonly socketAddress?: { readonly address?: string } } };
    readonly request?: {
      readonly http?: {
        readonly method?: string;
        readonly headers?: Record<string, string>;
        readonly path?: string;
        readonly host?: string;
      };
    };
  };
}

const OVERWRITE = 'OVERWRITE_IF_EXISTS_OR_ADD';
const header = (key: string, value: string) => ({ header: { key, value }, appendAction: OVERWRITE });

/** A refusal as Envoy passes it to the client: Flipt's JSON body, with `WWW-Authenticate` on a 401. */
function denied(grpcCode: number, httpStatus: number, message: string) {
  const json = httpStatus !== 403;
  return {
    status: { code: grpcCode, message },
    deniedResponse: {
      status: { code: httpStatus },
      headers: [
        header('content-type', json ? 'application/json' : 'text/plain; charset=utf-8'),
        ...(httpStatus === 401 ? [header('www-authenticate', message)] : []),
      ],
      // Go's CrossOriginProtection answers its 403 in plain text; everything else in Flipt's shape.
      body: json ? JSON.stringify({ code: grpcCode, message, details: [] }) : message,
    },
  };
}

/**
 * Envoy's `ext_authz` over gRPC (`envoy.service.auth.v3.Authorization/Check`), judged as forward-auth judges a
 * request ({@link createJudge}: the original method, path and headers). Allowed: status OK and the identity headers to set upstream, with
 * the client's `Authorization` (unless `gateway.pass_authorization`) and any identity header it sent and was not
 * given removed. Refused: Flipt's 401 (403 for a cross-origin request, 503 for a store that is down) for Envoy to
 * send the client.
 */
export function extAuthzService(runtime: Runtime): ServiceBinding {
  const { authentication, gateway } = runtime.config;
  const excluded = Object.values(gateway.sections).filter((section) => section.exclude);
  const judge = createJudge(
    runtime,
    createExclusionMatcher(
      authentication,
      excluded.flatMap((section) => section.prefixes),
    ),
  );
  const identityNames = Object.values(identityHeaderNames(gateway));

  /** @param peer the address of the call's peer (Envoy), when the request does not name its client's. */
  async function check(request: CheckRequest, peer: string | undefined) {
    const http = request.attributes?.request?.http ?? {};
    const headers = http.headers ?? {};
    const method = http.method ?? 'GET';
    const path = http.path?.startsWith('/') ? http.path : '/';
    const allow = (set: Record<string, string>) => ({
      status: { code: grpc.status.OK, message: '' },
      okResponse: {
        headers: Object.entries(set).map(([key, value]) => header(key, value)),
        headersToRemove: [
          ...identityNames.filter((name) => !(name in set)),
          ...(gateway.pass_authorization ? [] : ['authorization']),
        ],
      },
    });
    const judgement = await judge({
      method,
      uri: path,
      headers: { ...headers, host: headers.host ?? http.host },
      trustworthy: true,
      ip: () => request.attributes?.source?.address?.socketAddress?.address || peer,
    });
    if (judgement.kind === 'cross-origin')
      return denied(grpc.status.PERMISSION_DENIED, 403, judgement.message);
    if (judgement.kind === 'allow') return allow(judgement.identity);
    if (judgement.kind === 'error')
      return denied(judgement.code, httpStatus(judgement.code), judgement.message);
    return denied(grpc.status.UNAUTHENTICATED, 401, UNAUTHENTICATED_MESSAGE);
  }

  return {
    name: 'envoy.service.auth.v3.Authorization',
    definition: authorizationDefinition(),
    implementation: {
      Check(call: grpc.ServerUnaryCall<CheckRequest, unknown>, callback: grpc.sendUnaryData<unknown>) {
        check(call.request, new CallClient(call.getPeer()).ip).then(
          (response) => callback(null, response),
          (error: unknown) => {
            runtime.log.error({ err: error }, 'ext_authz check failed');
            callback({ code: grpc.status.INTERNAL, details: 'internal error' });
          },
        );
      },
    },
  };
}
