/**
 * A local fake of Azure Key Vault's data plane, as `@azure/keyvault-secrets` uses it: an HTTPS server on
 * 127.0.0.1 (port 0) whose certificate comes from a CA generated for it, answering
 *
 * - `GET /secrets/<name>[/]?api-version=…` (the latest version) and `GET /secrets/<name>/<version>?api-version=…`
 *   with a secret bundle (`{value, id, attributes}`);
 * - Key Vault's challenge: a request without a bearer token gets `401` with
 *   `WWW-Authenticate: Bearer authorization="https://login.microsoftonline.com/<tenant>", resource="https://vault.azure.net"`,
 *   and the SDK sends it again with `Authorization: Bearer <token>`; another token than `acceptedToken` gets `401`
 *   (`Unauthorized`), and while {@link AzureFake.setForbidden} is on a good token gets `403` (`Forbidden`);
 * - `404 {"error":{"code":"SecretNotFound",…}}` for a missing secret or version, `400 BadParameter` for a missing or
 *   unknown `api-version`, and `503` for everything while down.
 *
 * Every request is recorded. `fake.test.ts` drives it with the real `SecretClient`, so that it cannot drift from
 * what the SDK sends and accepts.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RecordedRequest, SecretStoreFake } from '../../core/test-support/secret-store-fake.ts';
import { createTestCa } from '../../core/test-support/tls.ts';

/** The token Flipt's emulator credential (and so ours) sends; Lowkey Vault takes any. */
export const EMULATOR_TOKEN = 'fake-token';

/** The API versions `@azure/keyvault-secrets` 4.12 may send (`serviceVersion`). */
export const KEY_VAULT_API_VERSIONS = [
  '7.0',
  '7.1',
  '7.2',
  '7.3',
  '7.4',
  '7.5',
  '7.6',
  '2025-07-01',
  '2026-04-01',
] as const;

/** What a vault name may hold (Key Vault: 1–127 characters of `0-9a-zA-Z-`). */
const SECRET_NAME = /^[0-9a-zA-Z-]{1,127}$/;

export interface AzureFakeOptions {
  /** The tenant the challenge names (`authorization="https://login.microsoftonline.com/<tenant>"`). */
  readonly tenantId?: string;
  /** The only bearer token the vault accepts. Default {@link EMULATOR_TOKEN}. */
  readonly acceptedToken?: string;
  /**
   * The `resource` the challenge names. Default `https://vault.azure.net`, as Azure's public cloud; the SDK checks
   * that the vault's host ends with `.<resource host>` unless `disableChallengeResourceVerification` is set.
   */
  readonly resource?: string;
}

export interface AzureFake extends SecretStoreFake {
  /** `https://127.0.0.1:<port>`. */
  readonly vaultUrl: string;
  /** The tenant the challenge names. */
  readonly tenantId: string;
  /** The PEM of the CA that issued the fake's certificate, and its file. */
  readonly caPem: string;
  readonly caFile: string;
  /** While `true`, a request with the accepted token gets `403 Forbidden` (no `get` permission). */
  setForbidden(forbidden: boolean): void;
}

interface Version {
  readonly id: string;
  readonly value: string;
  readonly created: number;
}

const errorBody = (code: string, message: string, inner?: string) =>
  JSON.stringify({
    error: { code, message, ...(inner === undefined ? {} : { innererror: { code: inner } }) },
  });

export async function startAzureFake(options: AzureFakeOptions = {}): Promise<AzureFake> {
  const tenantId = options.tenantId ?? '72f988bf-86f1-41af-91ab-2d7cd011db47';
  const acceptedToken = options.acceptedToken ?? EMULATOR_TOKEN;
  const resource = options.resource ?? 'https://vault.azure.net';
  const challenge = `Bearer authorization="https://login.microsoftonline.com/${tenantId}", resource="${resource}"`;
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-azure-fake-'));
  const ca = createTestCa(dir, 'portcullis azure fake CA');
  const leaf = ca.issue(['127.0.0.1', 'localhost'], 'vault');

  const secrets = new Map<string, Version[]>();
  const requests: RecordedRequest[] = [];
  let down = false;
  let forbidden = false;
  let vaultUrl = '';

  const answer = (
    res: ServerResponse,
    status: number,
    body: string,
    headers: Record<string, string> = {},
  ) => {
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'x-ms-keyvault-service-version': '1.9.0.0',
      'x-ms-request-id': randomBytes(16).toString('hex'),
      ...headers,
    });
    res.end(body);
  };

  const handle = (req: IncomingMessage, res: ServerResponse, body: string) => {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined)
        headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
    }
    requests.push({ method: req.method ?? '', path: req.url ?? '', headers, body });

    if (down) {
      answer(res, 503, errorBody('ServiceUnavailable', 'The service is unavailable.'));
      return;
    }
    const authorization = headers.authorization;
    if (authorization === undefined || !/^Bearer /i.test(authorization)) {
      answer(res, 401, errorBody('Unauthorized', 'AKV10000: Request is missing a Bearer or PoP token.'), {
        'www-authenticate': challenge,
      });
      return;
    }
    if (authorization.slice('Bearer '.length) !== acceptedToken) {
      answer(res, 401, errorBody('Unauthorized', 'AKV10032: Invalid issuer.'), {
        'www-authenticate': challenge,
      });
      return;
    }
    const url = new URL(req.url ?? '/', 'https://fake');
    const apiVersion = url.searchParams.get('api-version');
    if (apiVersion === null || !(KEY_VAULT_API_VERSIONS as readonly string[]).includes(apiVersion)) {
      answer(
        res,
        400,
        errorBody('BadParameter', `The specified version (${apiVersion ?? ''}) is not recognized.`),
      );
      return;
    }
    const parts = url.pathname.split('/').slice(1);
    // /secrets/<name>, /secrets/<name>/ and /secrets/<name>/<version>
    if (req.method !== 'GET' || parts[0] !== 'secrets' || parts.length < 2 || parts.length > 3) {
      answer(
        res,
        405,
        errorBody('BadParameter', `${req.method} ${url.pathname} is not supported by this fake.`),
      );
      return;
    }
    const name = decodeURIComponent(parts[1] ?? '');
    const wanted = parts[2] ?? '';
    if (!SECRET_NAME.test(name)) {
      answer(res, 400, errorBody('BadParameter', 'The request URI contains an invalid name.'));
      return;
    }
    if (forbidden) {
      answer(
        res,
        403,
        errorBody(
          'Forbidden',
          `The user, group or application does not have secrets get permission on key vault '${headers.host ?? ''}'.`,
          'AccessDenied',
        ),
      );
      return;
    }
    const versions = secrets.get(name.toLowerCase()) ?? [];
    const version = wanted === '' ? versions.at(-1) : versions.find((v) => v.id === wanted);
    if (version === undefined) {
      answer(
        res,
        404,
        errorBody(
          'SecretNotFound',
          `A secret with (name/id) ${name}${wanted ? `/${wanted}` : ''} was not found in this key vault.`,
        ),
      );
      return;
    }
    answer(
      res,
      200,
      JSON.stringify({
        value: version.value,
        id: `${vaultUrl}/secrets/${name}/${version.id}`,
        attributes: {
          enabled: true,
          created: version.created,
          updated: version.created,
          recoveryLevel: 'Recoverable+Purgeable',
          recoverableDays: 90,
        },
        tags: {},
      }),
    );
  };

  const server = createServer({ cert: leaf.certPem, key: leaf.keyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => handle(req, res, Buffer.concat(chunks).toString('utf8')));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  vaultUrl = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    vaultUrl,
    tenantId,
    caPem: ca.caPem,
    caFile: ca.caFile,
    config: { vault_url: vaultUrl, ca_cert_path: ca.caFile },
    env: { AZURE_KEYVAULT_EMULATOR: 'true' },
    requests,
    set(path, value) {
      if (!SECRET_NAME.test(path)) throw new Error(`"${path}" is not a Key Vault secret name (0-9a-zA-Z-)`);
      const key = path.toLowerCase();
      const versions = secrets.get(key) ?? [];
      versions.push({ id: randomBytes(16).toString('hex'), value, created: Math.floor(Date.now() / 1000) });
      secrets.set(key, versions);
    },
    remove(path) {
      secrets.delete(path.toLowerCase());
    },
    setDown(value) {
      down = value;
    },
    setForbidden(value) {
      forbidden = value;
    },
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
