import * as grpc from '@grpc/grpc-js';
import type { FastifyInstance } from 'fastify';
import type { Runtime } from '../runtime.ts';
import { credentialHeaders, type ServiceBinding, serviceDefinition } from './auth-services.ts';
import { fromTimestamp, type Timestamp, toAuthenticationMessage } from './messages.ts';

/** An authentication as the HTTP API writes it (Flipt's JSON). */
interface AuthenticationJson {
  readonly id?: string;
  readonly method?: string;
  readonly expiresAt?: string;
  readonly createdAt?: string;
  readonly updatedAt?: string;
  readonly metadata?: Record<string, string>;
}

const date = (text: string | undefined) => (text === undefined ? undefined : new Date(text));

/** A route's JSON authentication as Flipt's message, through the one builder of messages. */
const toMessage = (json: AuthenticationJson | undefined) =>
  json === undefined
    ? null
    : toAuthenticationMessage({
        id: json.id ?? '',
        method: json.method ?? 'METHOD_NONE',
        expiresAt: date(json.expiresAt),
        createdAt: date(json.createdAt),
        updatedAt: date(json.updatedAt),
        metadata: json.metadata ?? {},
      });

/**
 * A method RPC whose method's HTTP route holds its whole logic (Flipt maps the one onto the other with
 * grpc-gateway): the call goes through that route, in process, so the rule lives once.
 */
interface RoutedRpc {
  readonly service: string;
  readonly rpc: string;
  /** The method (its configuration name) whose route it is; the service runs only when the method does. */
  readonly method: string;
  readonly path: string;
  /** The request message as the route's JSON body. */
  body(request: Record<string, unknown>): object;
}

const ROUTED: readonly RoutedRpc[] = [
  {
    service: 'AuthenticationMethodTokenService',
    rpc: 'CreateToken',
    method: 'token',
    path: '/auth/v1/method/token',
    body(request) {
      const expiresAt = fromTimestamp(request.expiresAt as Timestamp | null);
      return {
        name: request.name,
        description: request.description,
        namespaceKey: request.namespaceKey,
        metadata: request.metadata,
        ...(expiresAt !== undefined && { expiresAt: expiresAt.toISOString() }),
      };
    },
  },
  {
    service: 'AuthenticationMethodKubernetesService',
    rpc: 'VerifyServiceAccount',
    method: 'kubernetes',
    path: '/auth/v1/method/kubernetes/serviceaccount',
    body: (request) => ({ serviceAccountToken: request.serviceAccountToken }),
  },
];

/** The services of {@link ROUTED}, by their short names. */
export const METHOD_SERVICES = [...new Set(ROUTED.map((routed) => routed.service))];

/**
 * Flipt's `AuthenticationMethodTokenService` (`CreateToken`) and `AuthenticationMethodKubernetesService`
 * (`VerifyServiceAccount`), for the methods that run: each call is the method's own HTTP route, reached in process
 * with the call's `authorization` (and `flipt_client_token`) metadata as its credential, its JSON mapped to and from
 * Flipt's messages, a refusal answered with the route's code and message.
 */
export function methodServices(runtime: Runtime, app: FastifyInstance): ServiceBinding[] {
  const bindings: ServiceBinding[] = [];
  for (const service of METHOD_SERVICES) {
    const rpcs = ROUTED.filter((routed) => routed.service === service && runtime.methods.has(routed.method));
    if (rpcs.length === 0) continue;
    const implementation: grpc.UntypedServiceImplementation = {};
    for (const routed of rpcs) {
      implementation[routed.rpc] = (
        call: grpc.ServerUnaryCall<Record<string, unknown>, unknown>,
        callback: grpc.sendUnaryData<unknown>,
      ) => {
        app
          .inject({
            method: 'POST',
            url: routed.path,
            headers: { 'content-type': 'application/json', ...credentialHeaders(call.metadata) },
            payload: JSON.stringify(routed.body(call.request)),
          })
          .then(
            (response) => {
              const body = JSON.parse(response.body) as {
                code?: number;
                message?: string;
                clientToken?: string;
                authentication?: AuthenticationJson;
              };
              if (response.statusCode !== 200) {
                callback({
                  code: body.code ?? grpc.status.INTERNAL,
                  details: body.message ?? 'internal error',
                });
                return;
              }
              callback(null, {
                clientToken: body.clientToken ?? '',
                authentication: toMessage(body.authentication),
              });
            },
            () => callback({ code: grpc.status.INTERNAL, details: 'internal error' }),
          );
      };
    }
    bindings.push({ name: `flipt.auth.${service}`, definition: serviceDefinition(service), implementation });
  }
  return bindings;
}
