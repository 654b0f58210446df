import type { IncomingHttpHeaders } from 'node:http';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { authService } from '../auth/service.ts';
import { ErrorCodes, PortcullisError } from '../errors.ts';
import { decide, notRequiredRefused } from '../http/authenticate.ts';
import { errorResponse, UNAUTHENTICATED_MESSAGE } from '../http/errors.ts';
import { CallClient } from '../observe/client.ts';
import type { Authentication } from '../plugins/contracts.ts';
import type { Runtime } from '../runtime.ts';
import {
  fromTimestamp,
  PROTO_OPTIONS,
  type Timestamp,
  toAuthenticationMessage,
  toMethod,
  toStruct,
} from './messages.ts';

/** Our copy of Flipt's `rpc/flipt/auth/auth.proto` (same names and numbers), beside this module. */
const AUTH_PROTO = fileURLToPath(new URL('./proto/flipt/auth/auth.proto', import.meta.url));

let loaded: grpc.GrpcObject | undefined;

/** The `flipt.auth` package, loaded once. */
export function fliptAuthPackage(): grpc.GrpcObject {
  loaded ??= grpc.loadPackageDefinition(protoLoader.loadSync(AUTH_PROTO, PROTO_OPTIONS));
  return loaded;
}

/** The services of `flipt.auth` portcullis answers, by their short names. */
export const AUTH_SERVICES = ['PublicAuthenticationService', 'AuthenticationService'] as const;

/** A `flipt.auth` service's definition (its methods and their (de)serialisers), from the proto. */
export function serviceDefinition(name: string): grpc.ServiceDefinition {
  const fliptAuth = (fliptAuthPackage().flipt as grpc.GrpcObject).auth as grpc.GrpcObject;
  return (fliptAuth[name] as grpc.ServiceClientConstructor).service;
}

/** A service to add to a gRPC server: its definition and its handlers. */
export interface ServiceBinding {
  readonly name: string;
  readonly definition: grpc.ServiceDefinition;
  readonly implementation: grpc.UntypedServiceImplementation;
}

/** A gRPC status for what an RPC threw: coded errors keep their code and message, anything else is internal. */
function toStatus(runtime: Runtime, rpc: string, error: unknown): Partial<grpc.StatusObject> {
  if (isStatus(error)) return error;
  const response = errorResponse(error);
  if (response.internal) runtime.log.error({ err: error, rpc }, 'request failed');
  return { code: response.code as number as grpc.status, details: response.message };
}

function isStatus(error: unknown): error is Partial<grpc.StatusObject> {
  return (
    typeof error === 'object' &&
    error !== null &&
    'details' in error &&
    typeof (error as { code?: unknown }).code === 'number'
  );
}

/**
 * A unary handler from an async function: a thrown `{code, details}` is the call's status, a coded error keeps its
 * code and message, anything else is an internal error (logged with `rpc`).
 */
export function unary<Request, Response>(
  runtime: Runtime,
  rpc: string,
  body: (call: grpc.ServerUnaryCall<Request, Response>) => Promise<Response>,
): grpc.handleUnaryCall<Request, Response> {
  return (call, callback) => {
    body(call).then(
      (response) => callback(null, response),
      (error: unknown) => callback(toStatus(runtime, rpc, error) as grpc.ServiceError),
    );
  };
}

/** The single string value of a metadata key, if it has one. */
function metadataValue(metadata: grpc.Metadata, key: string): string | undefined {
  const values = metadata.get(key);
  return values.length === 1 && typeof values[0] === 'string' ? values[0] : undefined;
}

/**
 * A call's credential as HTTP headers, for the pipeline or a method's route: `authorization` as it is, and the
 * `flipt_client_token` key (what Flipt's gateway forwards a session cookie as) as that cookie.
 */
export function credentialHeaders(metadata: grpc.Metadata): IncomingHttpHeaders {
  const authorization = metadataValue(metadata, 'authorization');
  const cookieToken = metadataValue(metadata, 'flipt_client_token');
  return {
    ...(authorization !== undefined && { authorization }),
    ...(cookieToken !== undefined && { cookie: `flipt_client_token=${cookieToken}` }),
  };
}

/**
 * Who is calling, from the call's metadata as Flipt's interceptors read it: `authorization` (`Bearer <client
 * token>`, `JWT <token>`, or a scheme a plugin owns), else the `flipt_client_token` key Flipt's gateway forwards a
 * session cookie as. Decided by the same pipeline, and logged the same way, as an HTTP request.
 *
 * @throws a gRPC status `UNAUTHENTICATED` ("request was not authenticated"), or the store's `UNAVAILABLE`
 */
async function caller(
  runtime: Runtime,
  call: grpc.ServerUnaryCall<unknown, unknown>,
  client: CallClient,
): Promise<Authentication> {
  const decision = await decide(runtime, credentialHeaders(call.metadata), call.getPath(), () => client.ip);
  if (decision.kind === 'authenticated') {
    client.authentication = decision.authentication;
    return decision.authentication;
  }
  if (decision.kind === 'error') throw { code: decision.code as number, details: decision.message };
  throw { code: grpc.status.UNAUTHENTICATED, details: UNAUTHENTICATED_MESSAGE };
}

/**
 * Flipt's `PublicAuthenticationService` and `AuthenticationService` (when it runs: a method enabled or
 * `authentication.required`), answered by the same {@link authService} as `/auth/v1`. With `required`, every
 * `AuthenticationService` call needs a credential, as Flipt's interceptors do; without it, the ones about the caller
 * (`GetAuthenticationSelf`, `ExpireAuthenticationSelf`, `RevokeAuthenticationSelf`) are refused and the others
 * open, as over HTTP.
 */
export function authServices(runtime: Runtime): ServiceBinding[] {
  const service = authService(runtime);
  const { required } = runtime.config.authentication;
  const numbers = new Map<string, number>();
  for (const method of runtime.methods.values()) {
    if (method.plugin.methodNumber !== undefined)
      numbers.set(method.plugin.method, method.plugin.methodNumber);
  }
  const message = (authentication: Authentication) =>
    toAuthenticationMessage(authentication, numbers.get(authentication.method));

  /**
   * The caller when the call needs one (`self`), or when `required` makes every call need one; `client` (for the
   * events the call causes) learns who it is.
   */
  async function authenticated(
    call: grpc.ServerUnaryCall<unknown, unknown>,
    self: boolean,
    client = new CallClient(call.getPeer()),
  ) {
    if (required) return caller(runtime, call, client);
    if (!self) return undefined;
    notRequiredRefused(runtime, call.getPath(), () => client.ip);
    throw { code: grpc.status.UNAUTHENTICATED, details: UNAUTHENTICATED_MESSAGE };
  }

  const publicService: ServiceBinding = {
    name: 'flipt.auth.PublicAuthenticationService',
    definition: serviceDefinition('PublicAuthenticationService'),
    implementation: {
      ListAuthenticationMethods: unary(runtime, 'ListAuthenticationMethods', async () => {
        // URLs in the methods' metadata have no forwarded prefix here: a gRPC call comes through no HTTP proxy.
        const { methods } = await service.listMethods('');
        return {
          methods: methods.map((method) => ({
            method: toMethod(method.method, numbers.get(method.method)),
            enabled: method.enabled,
            sessionCompatible: method.sessionCompatible,
            metadata:
              method.metadata !== undefined &&
              typeof method.metadata === 'object' &&
              !Array.isArray(method.metadata)
                ? toStruct(method.metadata as { [key: string]: never })
                : null,
          })),
        };
      }),
    },
  };
  if (!service.enabled) return [publicService];

  type Id = { id: string };
  const authenticationService: ServiceBinding = {
    name: 'flipt.auth.AuthenticationService',
    definition: serviceDefinition('AuthenticationService'),
    implementation: {
      GetAuthenticationSelf: unary(runtime, 'GetAuthenticationSelf', async (call) => {
        const who = (await authenticated(call, true)) as Authentication;
        return message(who);
      }),
      GetAuthentication: unary<Id, unknown>(runtime, 'GetAuthentication', async (call) => {
        await authenticated(call, false);
        return message(await service.getAuthentication(call.request.id));
      }),
      ListAuthentications: unary<{ method: string | number; limit: number; pageToken: string }, unknown>(
        runtime,
        'ListAuthentications',
        async (call) => {
          await authenticated(call, false);
          const { method, limit, pageToken } = call.request;
          if (limit < 0)
            throw new PortcullisError(ErrorCodes.INVALID_ARGUMENT, `invalid value "${limit}" for limit`);
          const page = await service.listAuthentications({
            method,
            ...(limit > 0 && { limit }),
            ...(pageToken !== '' && { pageToken }),
          });
          return { authentications: page.authentications.map(message), nextPageToken: page.nextPageToken };
        },
      ),
      DeleteAuthentication: unary<Id, unknown>(runtime, 'DeleteAuthentication', async (call) => {
        const client = new CallClient(call.getPeer());
        await authenticated(call, false, client);
        await service.deleteAuthentication(call.request.id, client);
        return {};
      }),
      ExpireAuthenticationSelf: unary<{ expiresAt?: Timestamp | null }, unknown>(
        runtime,
        'ExpireAuthenticationSelf',
        async (call) => {
          const client = new CallClient(call.getPeer());
          const who = (await authenticated(call, true, client)) as Authentication;
          await service.expireSelf(who, fromTimestamp(call.request.expiresAt), client);
          return {};
        },
      ),
      RevokeAuthenticationSelf: unary(runtime, 'RevokeAuthenticationSelf', async (call) => {
        const client = new CallClient(call.getPeer());
        const who = (await authenticated(call, true, client)) as Authentication;
        return service.revokeSelf(who, client);
      }),
    },
  };
  return [publicService, authenticationService];
}
