/**
 * A local fake of Google Cloud Secret Manager for tests: a real gRPC server on 127.0.0.1 built from the protos the
 * SDK itself ships (`@google-cloud/secret-manager/build/protos`, with the `google/api`, `google/iam`, `google/rpc`
 * imports that google-gax ships), so that the messages it reads and writes are the SDK's own and cannot drift.
 *
 * It implements `AccessSecretVersion` as the service answers it: `versions/latest` is the newest version, a number
 * is that version, `payload.data` holds the bytes and `payload.data_crc32c` their CRC32C; an unknown secret or
 * version is `NOT_FOUND`, a malformed name `INVALID_ARGUMENT`, a name in another project or location `NOT_FOUND`.
 * Every other RPC of the service answers `UNIMPLEMENTED`. While down, every call is answered `UNAVAILABLE`.
 * Each call is recorded (RPC name, metadata, request as JSON) before it is answered.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { RecordedRequest, SecretStoreFake } from '../../core/test-support/secret-store-fake.ts';

/** The full name of the service, as the SDK calls it. */
export const SECRET_MANAGER_SERVICE = 'google.cloud.secretmanager.v1.SecretManagerService';
/** The path of the one RPC the fake implements. */
export const ACCESS_SECRET_VERSION = `/${SECRET_MANAGER_SERVICE}/AccessSecretVersion`;

export interface GcpFakeOptions {
  /** The project the fake holds secrets for. Default `fake-project`. */
  readonly project?: string;
  /**
   * When set, the fake holds regional secrets of this location (`projects/<p>/locations/<l>/secrets/...`) and
   * answers `NOT_FOUND` for global names, as the service does; `config` then carries `location` too.
   */
  readonly location?: string;
}

/** The fake, with the switches its own tests need beyond {@link SecretStoreFake}. */
export interface GcpFake extends SecretStoreFake {
  readonly port: number;
  readonly project: string;
  /**
   * Until called with `undefined`, every call is answered with this gRPC status (`PERMISSION_DENIED`,
   * `UNAUTHENTICATED`, ...) and `details`, as the service answers refused credentials.
   */
  failWith(code: grpc.status | undefined, details?: string): void;
  /** While `true`, calls are recorded and left unanswered until the client cancels them (or the fake closes). */
  setStalled(stalled: boolean): void;
  /**
   * How many client connections (HTTP/2 sessions) the server holds open now, from grpc-js's channelz. grpc-js
   * unrefs an idle channel, so a client that is never closed keeps no event loop alive: this is how a test sees it.
   */
  openConnections(): Promise<number>;
}

interface AccessRequest {
  name?: string;
}

interface SecretPayload {
  data: Buffer;
  data_crc32c: string;
}

interface AccessResponse {
  name: string;
  payload: SecretPayload;
}

// The SDK's protos, found from the SDK itself and from the google-gax it loads (which ships the common imports).
const sdkRequire = createRequire(createRequire(import.meta.url).resolve('@google-cloud/secret-manager'));
const SDK_PROTOS = join(dirname(sdkRequire.resolve('@google-cloud/secret-manager')), '..', 'protos');
const GAX_PROTOS = join(dirname(sdkRequire.resolve('google-gax')), '..', 'protos');

let definition: protoLoader.PackageDefinition | undefined;

/** The service definition from the SDK's `google/cloud/secretmanager/v1/service.proto` (loaded once). */
export function secretManagerServiceDefinition(): grpc.ServiceDefinition {
  definition ??= protoLoader.loadSync('google/cloud/secretmanager/v1/service.proto', {
    includeDirs: [SDK_PROTOS, GAX_PROTOS],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: false,
    oneofs: true,
  });
  const service = definition[SECRET_MANAGER_SERVICE];
  if (service === undefined || !('AccessSecretVersion' in service)) {
    throw new Error(`${SECRET_MANAGER_SERVICE} is not in the SDK's protos`);
  }
  return service as grpc.ServiceDefinition;
}

/** CRC32C (Castagnoli), which the service sends as `payload.data_crc32c`. */
export function crc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

const SECRET_ID = /^[A-Za-z0-9_-]{1,255}$/;

/**
 * Metadata as recorded: names in lower case, binary (`-bin`) values in base64, repeated values joined by `, `; and
 * the call's deadline, which grpc-js takes off the metadata, as the `grpc-timeout` it came as (milliseconds left).
 */
function recordedHeaders(call: grpc.ServerUnaryCall<unknown, unknown>): Record<string, string> {
  const { metadata } = call;
  const headers: Record<string, string> = {};
  const deadline = call.getDeadline();
  const left = deadline instanceof Date ? deadline.getTime() - Date.now() : deadline - Date.now();
  if (Number.isFinite(left)) headers['grpc-timeout'] = `${Math.max(0, Math.round(left))}m`;
  for (const [name, values] of Object.entries(metadata.toJSON())) {
    headers[name.toLowerCase()] = values
      .map((value) => (Buffer.isBuffer(value) ? value.toString('base64') : String(value)))
      .join(', ');
  }
  return headers;
}

/** Starts the fake on 127.0.0.1 on a free port. */
export async function startGcpFake(options: GcpFakeOptions = {}): Promise<GcpFake> {
  const project = options.project ?? 'fake-project';
  const location = options.location;
  const parent = location === undefined ? `projects/${project}` : `projects/${project}/locations/${location}`;
  const secrets = new Map<string, Buffer[]>();
  const requests: RecordedRequest[] = [];
  const stalled = new Set<() => void>();
  let down = false;
  let stall = false;
  let failure: { code: grpc.status; details: string } | undefined;

  const access = (request: AccessRequest): AccessResponse | grpc.ServiceError => {
    const name = request.name ?? '';
    const match = /^(projects\/[^/]+(?:\/locations\/[^/]+)?)\/secrets\/([^/]+)\/versions\/([^/]+)$/.exec(
      name,
    );
    if (match === null || !SECRET_ID.test(match[2] ?? '')) {
      return status(grpc.status.INVALID_ARGUMENT, `Invalid resource field value in the request: "${name}"`);
    }
    const [, owner, id = '', version = ''] = match;
    const versions = owner === parent ? secrets.get(id) : undefined;
    if (versions === undefined || versions.length === 0) {
      return status(grpc.status.NOT_FOUND, `Secret [${owner}/secrets/${id}] not found or has no versions.`);
    }
    const number = version === 'latest' ? versions.length : /^[1-9]\d*$/.test(version) ? Number(version) : 0;
    const data = versions[number - 1];
    if (data === undefined) {
      return status(
        grpc.status.NOT_FOUND,
        `Secret Version [${owner}/secrets/${id}/versions/${version}] not found.`,
      );
    }
    return {
      name: `${owner}/secrets/${id}/versions/${number}`,
      payload: { data, data_crc32c: String(crc32c(data)) },
    };
  };

  const server = new grpc.Server();
  server.addService(secretManagerServiceDefinition(), {
    AccessSecretVersion(
      call: grpc.ServerUnaryCall<AccessRequest, AccessResponse>,
      callback: grpc.sendUnaryData<AccessResponse>,
    ) {
      requests.push({
        method: 'RPC',
        path: ACCESS_SECRET_VERSION,
        headers: recordedHeaders(call),
        body: JSON.stringify(call.request),
      });
      if (down) {
        callback(status(grpc.status.UNAVAILABLE, 'Secret Manager is down (fake)'));
      } else if (failure !== undefined) {
        callback(status(failure.code, failure.details));
      } else if (stall) {
        const forget = () => stalled.delete(answer);
        const answer = () => {
          forget();
          callback(status(grpc.status.UNAVAILABLE, 'the fake closed with this call unanswered'));
        };
        stalled.add(answer);
        call.on('cancelled', forget);
      } else {
        const answer = access(call.request);
        if ('payload' in answer) callback(null, answer);
        else callback(answer);
      }
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    );
  });

  return {
    port,
    project,
    config: location === undefined ? { project } : { project, location },
    env: { SECRET_MANAGER_EMULATOR_HOST: `127.0.0.1:${port}` },
    requests,
    set(path, value) {
      const versions = secrets.get(path) ?? [];
      versions.push(Buffer.from(value, 'utf8'));
      secrets.set(path, versions);
    },
    remove(path) {
      secrets.delete(path);
    },
    setDown(value) {
      down = value;
    },
    failWith(code, details = 'The caller does not have permission') {
      failure = code === undefined ? undefined : { code, details };
    },
    setStalled(value) {
      stall = value;
    },
    openConnections() {
      return new Promise((resolve, reject) => {
        const request = {
          server_id: String(server.getChannelzRef().id),
          start_socket_id: '0',
          max_results: '1000',
        };
        grpc
          .getChannelzHandlers()
          .GetServerSockets(
            { request } as Parameters<ReturnType<typeof grpc.getChannelzHandlers>['GetServerSockets']>[0],
            (error, answer) => (error ? reject(error) : resolve(answer?.socket_ref?.length ?? 0)),
          );
      });
    },
    async close() {
      for (const answer of [...stalled]) answer();
      await new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
      });
    },
  };
}

function status(code: grpc.status, details: string): grpc.ServiceError {
  return Object.assign(new Error(`${code} ${grpc.status[code]}: ${details}`), {
    code,
    details,
    metadata: new grpc.Metadata(),
  });
}
