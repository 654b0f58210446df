/**
 * A local fake of AWS Secrets Manager for the tests of the `aws` store: a real HTTP server on 127.0.0.1 speaking
 * the AWS JSON 1.1 protocol as `@aws-sdk/client-secrets-manager` sends it (`POST /`, `X-Amz-Target:
 * secretsmanager.GetSecretValue`, `Content-Type: application/x-amz-json-1.1`), checking each request's SigV4
 * signature against the one key pair it accepts, and answering as the service does. `fake.test.ts` drives it with
 * the real SDK, so that it cannot drift from what the SDK sends and accepts.
 *
 * Test support, not store code: nothing in the store imports it.
 */
import { createHash, createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RecordedRequest, SecretStoreFake } from '../../core/test-support/secret-store-fake.ts';

export interface AwsFakeOptions {
  /** The region the fake serves; a request signed for another is refused. Default `us-east-1`. */
  readonly region?: string;
  /** The one access key id the fake accepts. */
  readonly accessKeyId?: string;
  /** Its secret: every request's signature is checked with it. */
  readonly secretAccessKey?: string;
  /** When set, requests must carry it as `X-Amz-Security-Token` (temporary credentials). */
  readonly sessionToken?: string;
}

/** An error the fake answers for one secret, as the service would (`DecryptionFailure`, `AccessDeniedException`). */
export interface AwsFakeError {
  /** The AWS error name (`__type`, `x-amzn-ErrorType`). */
  readonly type: string;
  readonly message?: string;
  /** Default 400, as the service answers its client errors. */
  readonly status?: number;
}

export interface AwsFake extends SecretStoreFake {
  readonly config: { readonly endpoint_url: string };
  readonly env: {
    readonly AWS_REGION: string;
    readonly AWS_ACCESS_KEY_ID: string;
    readonly AWS_SECRET_ACCESS_KEY: string;
  };
  /** The fake's base URL (`http://127.0.0.1:<port>`). */
  readonly url: string;
  /** Stores `bytes` as the secret's `SecretBinary` (answered base64, as the service does). */
  setBinary(path: string, bytes: Uint8Array): void;
  /** Answers every GetSecretValue of `path` with this error (`undefined` clears it). */
  setError(path: string, error: AwsFakeError | undefined): void;
  /** Holds every answer this long (ms) before sending it: a slow store, for timeouts. `0` answers at once. */
  setLatency(ms: number): void;
  /** Answers `body` as it is (status 200) to every request: an answer the SDK cannot read. `undefined` clears it. */
  setRawAnswer(answer: { status: number; contentType: string; body: string } | undefined): void;
}

interface StoredSecret {
  readonly name: string;
  readonly arn: string;
  readonly versionId: string;
  readonly created: Date;
  readonly string?: string;
  readonly binary?: Uint8Array;
}

const JSON_11 = 'application/x-amz-json-1.1';
const ACCOUNT = '123456789012';
const SERVICE = 'secretsmanager';
/** How far a request's X-Amz-Date may be from the fake's clock, as AWS allows. */
const MAX_SKEW_MS = 15 * 60 * 1000;

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();

class Refusal extends Error {
  readonly type: string;
  readonly status: number;
  constructor(type: string, message: string, status = 400) {
    super(message);
    this.type = type;
    this.status = status;
  }
}

/** Starts the fake on 127.0.0.1, port 0. */
export async function startAwsFake(options: AwsFakeOptions = {}): Promise<AwsFake> {
  const region = options.region ?? 'us-east-1';
  const accessKeyId = options.accessKeyId ?? 'AKIAFAKEPORTCULLIS01';
  const secretAccessKey = options.secretAccessKey ?? 'fake-secret-access-key-do-not-log-Zr8q';
  const secrets = new Map<string, StoredSecret>();
  const errors = new Map<string, AwsFakeError>();
  const requests: RecordedRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let down = false;
  let latencyMs = 0;
  let rawAnswer: { status: number; contentType: string; body: string } | undefined;

  const store = (name: string, value: { string?: string; binary?: Uint8Array }) => {
    secrets.set(name, {
      name,
      arn: `arn:aws:secretsmanager:${region}:${ACCOUNT}:secret:${name}-${randomUUID().slice(0, 6)}`,
      versionId: randomUUID(),
      created: new Date(),
      ...value,
    });
  };

  /** Checks the SigV4 `Authorization` header as the service does; throws the service's refusal. */
  const checkSignature = (req: IncomingMessage, body: Buffer) => {
    const authorization = req.headers.authorization;
    if (authorization === undefined)
      throw new Refusal('MissingAuthenticationTokenException', 'Missing Authentication Token');
    const match =
      /^AWS4-HMAC-SHA256 Credential=([^,]+), ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(
        authorization,
      );
    if (match === null)
      throw new Refusal('IncompleteSignatureException', 'Authorization header is malformed.');
    const [, credential, signedHeaderList, signature] = match as unknown as [string, string, string, string];
    const [keyId, date, scopeRegion, service, terminator] = credential.split('/');
    if (keyId !== accessKeyId) {
      throw new Refusal(
        'UnrecognizedClientException',
        'The security token included in the request is invalid.',
      );
    }
    if (scopeRegion !== region || service !== SERVICE || terminator !== 'aws4_request') {
      throw new Refusal(
        'InvalidSignatureException',
        `Credential should be scoped to a valid region and service (${region}, ${SERVICE}).`,
      );
    }
    if (options.sessionToken !== undefined && req.headers['x-amz-security-token'] !== options.sessionToken) {
      throw new Refusal(
        'UnrecognizedClientException',
        'The security token included in the request is invalid.',
      );
    }
    const amzDate = String(req.headers['x-amz-date'] ?? '');
    const dated = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
    if (dated === null || !amzDate.startsWith(date ?? '-')) {
      throw new Refusal(
        'IncompleteSignatureException',
        'X-Amz-Date is missing or does not match the credential.',
      );
    }
    const [, y, mo, d, h, mi, s] = dated.map(Number) as [
      number,
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    if (Math.abs(Date.UTC(y, mo - 1, d, h, mi, s) - Date.now()) > MAX_SKEW_MS) {
      throw new Refusal(
        'InvalidSignatureException',
        'Signature expired: the request time is too far from now.',
      );
    }
    const signedHeaders = signedHeaderList.split(';');
    if (!signedHeaders.includes('host') || !signedHeaders.includes('x-amz-date')) {
      throw new Refusal('IncompleteSignatureException', 'host and x-amz-date must be signed.');
    }
    const canonicalHeaders = signedHeaders
      .map(
        (name) =>
          `${name}:${String(req.headers[name] ?? '')
            .trim()
            .replace(/\s+/g, ' ')}\n`,
      )
      .join('');
    const url = new URL(req.url ?? '/', 'http://fake');
    const canonicalQuery = [...url.searchParams]
      .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
      .sort()
      .join('&');
    const payloadHash = String(req.headers['x-amz-content-sha256'] ?? sha256(body));
    const canonicalRequest = [
      req.method,
      url.pathname,
      canonicalQuery,
      canonicalHeaders,
      signedHeaderList,
      payloadHash,
    ].join('\n');
    const scope = `${date}/${region}/${SERVICE}/aws4_request`;
    const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonicalRequest)].join('\n');
    const signingKey = hmac(
      hmac(hmac(hmac(`AWS4${secretAccessKey}`, date as string), region), SERVICE),
      'aws4_request',
    );
    const expected = Buffer.from(createHmac('sha256', signingKey).update(stringToSign).digest('hex'));
    if (!timingSafeEqual(expected, Buffer.from(signature))) {
      throw new Refusal(
        'InvalidSignatureException',
        'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.',
      );
    }
  };

  const getSecretValue = (input: Record<string, unknown>) => {
    const id = input.SecretId;
    if (typeof id !== 'string' || id === '') {
      throw new Refusal('InvalidParameterException', 'You must provide a value for SecretId.');
    }
    const injected = errors.get(id);
    if (injected !== undefined) {
      throw new Refusal(injected.type, injected.message ?? `${injected.type} (fake)`, injected.status ?? 400);
    }
    const secret = secrets.get(id) ?? [...secrets.values()].find((s) => s.arn === id);
    if (secret === undefined) {
      throw new Refusal('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
    }
    const stage = input.VersionStage ?? 'AWSCURRENT';
    if (stage !== 'AWSCURRENT' || (input.VersionId !== undefined && input.VersionId !== secret.versionId)) {
      throw new Refusal(
        'ResourceNotFoundException',
        `Secrets Manager can't find the specified secret value for staging label: ${String(stage)}`,
      );
    }
    return {
      ARN: secret.arn,
      Name: secret.name,
      VersionId: secret.versionId,
      ...(secret.string !== undefined ? { SecretString: secret.string } : {}),
      ...(secret.binary !== undefined ? { SecretBinary: Buffer.from(secret.binary).toString('base64') } : {}),
      VersionStages: ['AWSCURRENT'],
      CreatedDate: secret.created.getTime() / 1000,
    };
  };

  const answer = (res: ServerResponse, status: number, body: unknown, errorType?: string) => {
    const send = () => {
      if (res.destroyed) return;
      res.writeHead(status, {
        'content-type': JSON_11,
        'x-amzn-requestid': randomUUID(),
        ...(errorType === undefined ? {} : { 'x-amzn-errortype': errorType }),
      });
      res.end(JSON.stringify(body));
    };
    if (latencyMs <= 0) return send();
    const timer = setTimeout(() => {
      timers.delete(timer);
      send();
    }, latencyMs);
    timers.add(timer);
    // A client that gave up (its abort signal) is not answered later: nothing of it stays behind.
    res.once('close', () => {
      clearTimeout(timer);
      timers.delete(timer);
    });
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.headers)) {
        if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
      }
      requests.push({ method: req.method ?? '', path: req.url ?? '', headers, body: body.toString('utf8') });
      if (down) {
        req.socket.destroy();
        return;
      }
      if (rawAnswer !== undefined) {
        res.writeHead(rawAnswer.status, { 'content-type': rawAnswer.contentType });
        res.end(rawAnswer.body);
        return;
      }
      try {
        if (req.method !== 'POST' || req.url !== '/') {
          throw new Refusal('UnknownOperationException', `${req.method} ${req.url} is not an operation`, 404);
        }
        checkSignature(req, body);
        if (!String(req.headers['content-type'] ?? '').startsWith(JSON_11)) {
          throw new Refusal('SerializationException', `content-type must be ${JSON_11}`);
        }
        const target = req.headers['x-amz-target'];
        if (target !== 'secretsmanager.GetSecretValue') {
          throw new Refusal('UnknownOperationException', `unknown operation ${String(target)}`);
        }
        let input: unknown;
        try {
          input = JSON.parse(body.toString('utf8'));
        } catch {
          throw new Refusal('SerializationException', 'the body is not JSON');
        }
        if (typeof input !== 'object' || input === null || Array.isArray(input)) {
          throw new Refusal('SerializationException', 'the body is not a JSON object');
        }
        answer(res, 200, getSecretValue(input as Record<string, unknown>));
      } catch (error) {
        if (!(error instanceof Refusal)) throw error;
        answer(res, error.status, { __type: error.type, message: error.message }, error.type);
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    config: { endpoint_url: url },
    env: { AWS_REGION: region, AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey },
    requests,
    set(path, value) {
      store(path, { string: value });
    },
    setBinary(path, bytes) {
      store(path, { binary: Uint8Array.from(bytes) });
    },
    remove(path) {
      secrets.delete(path);
    },
    setError(path, error) {
      if (error === undefined) errors.delete(path);
      else errors.set(path, error);
    },
    setDown(value) {
      down = value;
    },
    setLatency(ms) {
      latencyMs = ms;
    },
    setRawAnswer(value) {
      rawAnswer = value;
    },
    async close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
