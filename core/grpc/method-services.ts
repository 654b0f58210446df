import type { IncomingHttpHeaders } from 'node:http';
import * as grpc from '@grpc/grpc-js';
import type { FastifyInstance } from 'fastify';
import { grpcCallHeaders, STATE_COOKIE } from '../http/cookies.ts';
import { CallClient } from '../observe/client.ts';
import type { Runtime } from '../runtime.ts';
import { credentialHeaders, type ServiceBinding, serviceDefinition, unary } from './auth-services.ts';
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

/** What a method's route answers, success or refusal. */
interface RouteJson {
  readonly code?: number;
  readonly message?: string;
  readonly clientToken?: string;
  readonly authentication?: AuthenticationJson;
  readonly authorizeUrl?: string;
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

/** A request message's string field (proto-loader fills in `""` for one not sent). */
const text = (request: Record<string, unknown>, field: string) =>
  typeof request[field] === 'string' ? request[field] : '';

/** A path segment from a request field. */
const segment = (request: Record<string, unknown>, field: string) => {
  const value = text(request, field);
  // `.` and `..` (and `%2E`, which the URL standard reads alike) would be resolved away, reaching another route:
  // escaped twice, the route gets them as a name, unknown like any other that is not configured.
  return value === '.' || value === '..' ? value.replaceAll('.', '%252E') : encodeURIComponent(value);
};

/** A query from request fields. */
const query = (request: Record<string, unknown>, fields: Record<string, string>) =>
  new URLSearchParams(
    Object.fromEntries(Object.entries(fields).map(([name, field]) => [name, text(request, field)])),
  ).toString();

/** The route's request for a call: a `GET` (no body) or a `POST` with a JSON body. */
interface RouteRequest {
  readonly url: string;
  readonly body?: object;
}

/**
 * A method RPC whose method's HTTP route holds its whole logic (Flipt maps the one onto the other with
 * grpc-gateway): the call goes through that route, in process, so the rule lives once.
 */
interface RoutedRpc {
  readonly service: string;
  readonly rpc: string;
  /** The method (its configuration name) whose route it is; the service runs only when the method does. */
  readonly method: string;
  /** The route's request for the call's message. */
  route(request: Record<string, unknown>): RouteRequest;
  /** The response message from the route's JSON. */
  answer(json: RouteJson): object;
}

/** `CreateTokenResponse`, `VerifyServiceAccountResponse`, `CallbackResponse`: a client token and who it is. */
const issued = (json: RouteJson) => ({
  clientToken: json.clientToken ?? '',
  authentication: toMessage(json.authentication),
});
const authorizeUrl = (json: RouteJson) => ({ authorizeUrl: json.authorizeUrl ?? '' });

/** `AuthorizeURL` and `Callback` of a login method whose routes live under `base(request)`. */
function loginRpcs(service: string, method: string, base: (request: Record<string, unknown>) => string) {
  return [
    {
      service,
      rpc: 'AuthorizeURL',
      method,
      route: (request) => ({ url: `${base(request)}/authorize?${query(request, { state: 'state' })}` }),
      answer: authorizeUrl,
    },
    {
      service,
      rpc: 'Callback',
      method,
      route: (request) => ({
        url: `${base(request)}/callback?${query(request, { code: 'code', state: 'state' })}`,
      }),
      answer: issued,
    },
  ] satisfies RoutedRpc[];
}

const OIDC_SERVICE = 'AuthenticationMethodOIDCService';
const oidcBase = (request: Record<string, unknown>) => `/auth/v1/method/oidc/${segment(request, 'provider')}`;

const ROUTED: readonly RoutedRpc[] = [
  {
    service: 'AuthenticationMethodTokenService',
    rpc: 'CreateToken',
    method: 'token',
    route(request) {
      const expiresAt = fromTimestamp(request.expiresAt as Timestamp | null);
      return {
        url: '/auth/v1/method/token',
        body: {
          name: request.name,
          description: request.description,
          namespaceKey: request.namespaceKey,
          metadata: request.metadata,
          ...(expiresAt !== undefined && { expiresAt: expiresAt.toISOString() }),
        },
      };
    },
    answer: issued,
  },
  {
    service: 'AuthenticationMethodKubernetesService',
    rpc: 'VerifyServiceAccount',
    method: 'kubernetes',
    route: (request) => ({
      url: '/auth/v1/method/kubernetes/serviceaccount',
      body: { serviceAccountToken: request.serviceAccountToken },
    }),
    answer: issued,
  },
  ...loginRpcs(OIDC_SERVICE, 'oidc', oidcBase),
  {
    // A call without Flipt's `x-http-method` metadata is the back-channel logout (a POST); `iss` and `sid` belong
    // to the front-channel one, which a browser makes over HTTP.
    service: OIDC_SERVICE,
    rpc: 'Revoke',
    method: 'oidc',
    route: (request) => ({
      url: `${oidcBase(request)}/revoke`,
      body: { logout_token: text(request, 'logoutToken') },
    }),
    answer: () => ({}),
  },
  ...loginRpcs('AuthenticationMethodGithubService', 'github', () => '/auth/v1/method/github'),
];

/** The services of {@link ROUTED}, by their short names. */
export const METHOD_SERVICES = [...new Set(ROUTED.map((routed) => routed.service))];

/**
 * The headers of a call's request to a route: its credential ({@link credentialHeaders}), its
 * `flipt_client_state` metadata (what Flipt's gateway forwards the state cookie as) as that cookie, and the mark of
 * an in-process gRPC call, by which the session helpers answer as Flipt's gRPC server does (no cookies, no redirect).
 */
function routeHeaders(metadata: grpc.Metadata): IncomingHttpHeaders {
  const { cookie: tokenCookie, ...headers } = credentialHeaders(metadata);
  // Flipt reads the first value of the key.
  const [state] = metadata.get('flipt_client_state');
  const cookies = [
    ...(tokenCookie === undefined ? [] : [tokenCookie]),
    ...(typeof state === 'string' ? [`${STATE_COOKIE}=${state}`] : []),
  ];
  return {
    ...headers,
    ...(cookies.length > 0 && { cookie: cookies.join('; ') }),
    ...grpcCallHeaders(),
  };
}

/**
 * Calls `routed`'s route in process for `call`; resolves to the response message.
 *
 * @throws the route's refusal as a gRPC status (`{code, details}`)
 */
async function answerThroughRoute(
  app: FastifyInstance,
  routed: RoutedRpc,
  call: grpc.ServerUnaryCall<Record<string, unknown>, object>,
): Promise<object> {
  const { url, body } = routed.route(call.request);
  const peer = new CallClient(call.getPeer()).ip;
  const response = await app.inject({
    method: body === undefined ? 'GET' : 'POST',
    url,
    headers: {
      ...routeHeaders(call.metadata),
      ...(body !== undefined && { 'content-type': 'application/json' }),
    },
    ...(body !== undefined && { payload: JSON.stringify(body) }),
    // The route sees the call's peer as its client (a login's audit event names it), not the process itself.
    ...(peer !== undefined && { remoteAddress: peer }),
  });
  const json = JSON.parse(response.body) as RouteJson;
  if (response.statusCode !== 200) {
    throw { code: json.code ?? grpc.status.INTERNAL, details: json.message ?? 'internal error' };
  }
  return routed.answer(json);
}

/**
 * The methods' own services, for the methods that run: `AuthenticationMethodTokenService` (`CreateToken`),
 * `AuthenticationMethodKubernetesService` (`VerifyServiceAccount`), `AuthenticationMethodOIDCService`
 * (`AuthorizeURL`, `Callback`, `Revoke`) and `AuthenticationMethodGithubService` (`AuthorizeURL`, `Callback`). Each
 * call is the method's own HTTP route, reached in process with the call's metadata ({@link routeHeaders}), its JSON
 * mapped to and from Flipt's messages, a refusal answered with the route's code and message.
 */
export function methodServices(runtime: Runtime, app: FastifyInstance): ServiceBinding[] {
  const bindings: ServiceBinding[] = [];
  for (const service of METHOD_SERVICES) {
    const rpcs = ROUTED.filter((routed) => routed.service === service && runtime.methods.has(routed.method));
    if (rpcs.length === 0) continue;
    const implementation: grpc.UntypedServiceImplementation = {};
    for (const routed of rpcs) {
      implementation[routed.rpc] = unary<Record<string, unknown>, object>(runtime, routed.rpc, (call) =>
        answerThroughRoute(app, routed, call),
      );
    }
    bindings.push({ name: `flipt.auth.${service}`, definition: serviceDefinition(service), implementation });
  }
  return bindings;
}
