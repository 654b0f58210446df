/**
 * What configuration messages may say about the values they refuse, whichever check refuses them (the schema, a
 * core rule, a plugin's validate hook, the plugin loader): values escaped to one line and cut when long; no
 * credential, and no value from the environment, repeated.
 */
import { describe, expect, it } from 'vitest';
import { credentialIssues } from '../../plugins/token/static-tokens.ts';
import { ConfigError, ErrorCodes, formatIssue, SecretResolutionError } from '../errors.ts';
import { tempFiles } from '../test-support/tmp.ts';
import { VALUE_LIMIT } from './describe-value.ts';
import { type LoadOptions, loadConfig } from './load.ts';

async function refused(options: LoadOptions): Promise<ConfigError> {
  const error = await loadConfig(options).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof ConfigError)) throw new Error(`expected a ConfigError, got ${String(error)}`);
  return error;
}

/** Everything an operator could read about a failure: its message, each problem as printed, and the stack. */
function allText(error: ConfigError): string {
  return [error.message, error.stack ?? '', ...error.issues.map(formatIssue)].join('\n');
}

const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Control, line-separating and bidirectional characters, which must never reach a terminal raw. */
const UNSAFE = /[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;

/** A value far longer than any message should be, ending in a control character. */
const huge = (start: string) => `${start}${'x'.repeat(6000)}\u001b[2J`;

/** A third-party plugin module whose schema is given (as JavaScript source) and whose rule names `spell` raw. */
const plugin = (schema: string) => `
export default {
  kind: 'method', apiVersion: '^1.0.0',
  name: 'magic',
  method: 'METHOD_MAGIC',
  sessionCompatible: false,
  configSchema: ${schema},
  validate(config) {
    return config.spell ? [{ path: ['spell'], message: 'unknown spell ' + config.spell }] : [];
  },
  create() {
    return {};
  },
};
`;

/** A folder with the plugin above (given its schema) and a config.yaml that enables it with `settings` lines. */
function magicFolder(schema: string, settings: readonly string[]): string {
  return tempFiles({
    'magic.mjs': plugin(schema),
    'config.yaml': [
      'plugins: [./magic.mjs]',
      'authentication:',
      '  methods:',
      '    magic:',
      '      enabled: true',
      ...settings.map((line) => `      ${line}`),
      '',
    ].join('\n'),
  });
}

describe('every value a message names is escaped and cut', () => {
  it('in the rules of the core and of every built-in plugin', async () => {
    const error = await refused({
      object: {
        version: huge('1.'),
        server: { protocol: 'https', cert_file: huge('/no/cert-'), cert_key: huge('/no/key-') },
        gateway: {
          upstream: 'http://127.0.0.1:9000',
          identity_headers: { id: `X-${'x'.repeat(6000)}`, user: `x-${'x'.repeat(6000)}` },
        },
        authentication: {
          session: { domain: huge('flipt example.com/') },
          methods: {
            token: {
              enabled: true,
              storage: {
                type: huge('line1\nFAKE.path (1:1): injected '),
                tokens: { [huge('ci-')]: { credential: 'same' }, deploy: { credential: 'same' } },
              },
            },
            jwt: { enabled: true, public_key_file: huge('/no/key-') },
            github: {
              enabled: true,
              client_id: 'a',
              client_secret: 'b',
              redirect_address: 'https://flipt.example.com',
              scopes: ['read:org'],
              allowed_organizations: ['flipt'],
              allowed_teams: { [huge('org-')]: ['team'] },
            },
            oidc: {
              enabled: true,
              email_matches: [huge('^(admin')],
              providers: {
                [huge('google-')]: {
                  issuer_url: 'https://accounts.google.com',
                  client_id: 'flipt',
                  client_secret: 'secret',
                  redirect_address: 'https://flipt.example.com',
                  ca_path: huge('/no/ca-'),
                  allow_front_channel_logout: true,
                },
              },
            },
          },
        },
      },
      env: {},
    });
    const lines = error.issues.map(formatIssue);
    const starts = [
      'version: invalid version: 1.xxx',
      'authentication.methods.token.storage.type: storage type: authentication.method.token.storage.type unexpected type: "line1\\nFAKE.path',
      'authentication.methods.token.storage.tokens.deploy.credential: authentication: credential is the same as token "ci-xxx',
      'authentication.methods.github.allowed_teams["org-xxx',
      'authentication.methods.oidc.email_matches[0]: failed compiling string for pattern: ^(adminxxx',
      'authentication.methods.oidc.providers["google-xxx',
      'authentication.methods.oidc.providers["google-xxx',
      'authentication.methods.jwt.public_key_file: authentication: public_key_file stat /no/key-xxx',
      'authentication.session.domain: authentication: session_domain parse "http://flipt example.com/xxx',
      'server.cert_file: server: cert_file stat /no/cert-xxx',
      'server.cert_key: server: cert_key stat /no/key-xxx',
      'gateway.identity_headers.user: "x-xxx',
    ];
    expect(lines).toEqual(starts.map((start) => expect.stringMatching(`^${literal(start)}`)));
    for (const line of lines) {
      expect(line).not.toMatch(UNSAFE);
      // The path, Flipt's words and a few values, each at most VALUE_LIMIT characters: far from 6,000.
      expect(line.length, line).toBeLessThan(8 * VALUE_LIMIT);
      expect(line).not.toContain('x'.repeat(VALUE_LIMIT + 1));
    }
  });

  it('in the problems with plugins: entries, Node’s own reason included', async () => {
    const long = `./${'p'.repeat(300)}.mjs`;
    const dir = tempFiles({
      'config.yaml': `plugins:\n  - "${long}"\n  - "./line\\nFAKE.path (1:1): x.mjs"\n`,
    });
    const lines = (await refused({ cwd: dir, file: 'config.yaml', env: {} })).issues.map(formatIssue);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(
      /^plugins\[0\] \(2:5\): cannot import plugin module "\.\/p{62}…" \(306 characters\): /,
    );
    expect(lines[1]).toMatch(/^plugins\[1\] \(3:5\): cannot import plugin module "\.\/line\\nFAKE\.path/);
    for (const line of lines) {
      expect(line).not.toMatch(UNSAFE);
      expect(line).not.toContain('p'.repeat(VALUE_LIMIT + 1));
    }
  });

  it('in a third-party plugin’s own messages and keys, escaped where problems are printed', async () => {
    const dir = magicFolder(
      "{ type: 'object', additionalProperties: false, properties: { spell: { type: 'string' }, books: { type: 'object', additionalProperties: { type: 'integer' } } } }",
      ['spell: "lumos\\nFAKE.path (1:1): injected\\e[31m"', 'books: {"tome\\u202e": many}'],
    );
    const lines = (await refused({ cwd: dir, file: 'config.yaml', env: {} })).issues.map(formatIssue);
    expect(lines).toEqual([
      'authentication.methods.magic.spell (6:7): unknown spell lumos\\nFAKE.path (1:1): injected\\u001b[31m',
      'authentication.methods.magic.books["tome\\u202e"] (7:29): must be an integer; got "many"',
    ]);
  });

  it('in the problems with ${secret:...} references, before and after they are resolved', async () => {
    const long = 'a'.repeat(6000);
    const error = await refused({
      object: {
        authentication: {
          methods: {
            token: {
              storage: {
                tokens: {
                  a: { credential: `\${secret:${long}}` },
                  b: { credential: `\${secret:nosuch${long}:path}` },
                  c: { credential: `\${secret:file:${long} x}` },
                },
              },
            },
          },
        },
      },
      env: {},
    });
    const cut = `${'a'.repeat(VALUE_LIMIT)}… (6000 characters)`;
    expect(error.issues.map(formatIssue)).toEqual([
      `authentication.methods.token.storage.tokens.a.credential: invalid secret reference "\${secret:${'a'.repeat(VALUE_LIMIT - 9)}…" (6010 characters): provider is required, as in \${secret:file:${cut}}`,
      `authentication.methods.token.storage.tokens.b.credential: secret reference "\${secret:nosuch${'a'.repeat(VALUE_LIMIT - 15)}…" (6021 characters) names provider "nosuch${'a'.repeat(VALUE_LIMIT - 6)}…" (6006 characters), which does not exist; registered providers: aws, azure, file, gcp, vault`,
      `authentication.methods.token.storage.tokens.c.credential: invalid secret reference "\${secret:file:${'a'.repeat(VALUE_LIMIT - 14)}…" (6017 characters): only letters, digits and _ : / . - may follow "\${secret:"`,
    ]);
    const failure = new SecretResolutionError([
      {
        reference: `\${secret:file:${long}}`,
        provider: 'file',
        paths: [['authentication', 'session', 'csrf', 'key']],
        message: 'no such secret\nFAKE line',
        code: ErrorCodes.SECRET_NOT_FOUND,
      },
    ]);
    expect(failure.message).toBe(
      `resolving secret reference "\${secret:file:${'a'.repeat(VALUE_LIMIT - 14)}…" (6015 characters) (provider "file", at authentication.session.csrf.key): no such secret\\nFAKE line`,
    );
  });

  it('in the checks made after references are resolved', () => {
    const name = huge('ci-');
    const issues = credentialIssues(
      [
        { name, credential: 'same' },
        { name: 'deploy', credential: 'same' },
      ],
      true,
    );
    const [line = ''] = issues.map((issue) => formatIssue(issue));
    expect(line).toMatch(/resolves to the same value as token "ci-x+…" \(6007 characters\)'s; each token/);
    expect(line).not.toMatch(UNSAFE);
  });
});

describe('no message repeats a credential', () => {
  const SECRET = 's3cr3t-in-a-branch';

  it('marked writeOnly in any branch of a third-party schema, or behind a $ref', async () => {
    const schema = `{
      type: 'object',
      additionalProperties: false,
      definitions: { secret: { type: 'string', writeOnly: true, minLength: 100 } },
      properties: {
        any: { anyOf: [{ type: 'integer' }, { type: 'string', writeOnly: true, minLength: 100 }] },
        one: { oneOf: [{ type: 'integer' }, { $ref: '#/definitions/secret' }] },
        all: { allOf: [{ type: 'string' }, { writeOnly: true }, { type: 'integer' }] },
        outer: { writeOnly: true, anyOf: [{ type: 'integer' }, { type: 'boolean' }] },
        ref: { $ref: '#/definitions/secret' },
        block: {
          type: 'object',
          if: { properties: { kind: { const: 'api' } }, required: ['kind'] },
          then: { properties: { key: { writeOnly: true } } },
          properties: { kind: { type: 'string' }, key: { type: 'integer' } },
        },
        vault: {
          type: 'object',
          additionalProperties: { anyOf: [{ $ref: '#/definitions/secret' }] },
        },
      },
    }`;
    const dir = magicFolder(schema, [
      ...['any', 'one', 'all', 'outer', 'ref'].map((key) => `${key}: ${SECRET}-${key}`),
      `block: {kind: api, key: ${SECRET}-block}`,
      `vault: ${SECRET}-vault`,
    ]);
    const error = await refused({ cwd: dir, file: 'config.yaml', env: {} });
    expect(error.issues.length).toBeGreaterThanOrEqual(7);
    expect(allText(error)).not.toContain(SECRET);
    expect(allText(error)).toContain(`got a value of ${SECRET.length + '-any'.length} characters`);
  });

  it('held by another setting too, which is named instead', async () => {
    const error = await refused({
      object: {
        authentication: {
          session: { domain: 'flipt.example.com' },
          methods: {
            github: {
              enabled: true,
              client_id: 'flipt',
              client_secret: 'gh-s3cr3t-pasted-twice',
              redirect_address: 'gh-s3cr3t-pasted-twice',
            },
          },
        },
      },
      env: {},
    });
    expect(error.issues.map(formatIssue)).toEqual([
      'authentication.methods.github.redirect_address: authentication: redirect_address must be an absolute http(s) URL; got the value of authentication.methods.github.client_secret (22 characters)',
    ]);
  });
});

describe('no message repeats a value from the environment', () => {
  it('set by ${env:NAME} or a FLIPT_* variable, in a schema message or a rule’s', async () => {
    const env = {
      CI_TOKEN: 'env-s3cr3t-ci-token',
      PROTOCOL: 'env-s3cr3t-protocol',
      JWKS_URL: 'ht tp://issuer/jwks?token=env-s3cr3t-jwks',
      FLIPT_LOG_LEVEL: 'env-s3cr3t-level',
      FLIPT_AUTHENTICATION_METHODS_TOKEN_STORAGE_TYPE: 'env-s3cr3t-type',
      FLIPT_AUTHENTICATION_SESSION_TOKEN_LIFETIME: '-5m',
    };
    const error = await refused({
      object: {
        server: { protocol: '${env:PROTOCOL}' },
        authentication: {
          session: { csrf: '${env:CI_TOKEN}' },
          methods: { token: { enabled: true }, jwt: { enabled: true, jwks_url: '${env:JWKS_URL}' } },
        },
      },
      env,
    });
    expect(error.issues.map(formatIssue)).toEqual([
      'log.level (env FLIPT_LOG_LEVEL): must be one of: debug, info, warn, error, fatal, panic, DEBUG, INFO, WARN, ERROR, FATAL, PANIC; got the value of FLIPT_LOG_LEVEL (16 characters)',
      'authentication.methods.token.storage.type (env FLIPT_AUTHENTICATION_METHODS_TOKEN_STORAGE_TYPE): storage type: authentication.method.token.storage.type unexpected type: the value of FLIPT_AUTHENTICATION_METHODS_TOKEN_STORAGE_TYPE (15 characters)',
      'authentication.session.token_lifetime (env FLIPT_AUTHENTICATION_SESSION_TOKEN_LIFETIME): authentication: session token_lifetime must be a positive duration; got the value of FLIPT_AUTHENTICATION_SESSION_TOKEN_LIFETIME (3 characters)',
      'authentication.session.csrf: must be a mapping; got a value of 19 characters (from ${env:CI_TOKEN})',
      'server.protocol: must be one of: http, https; got the value of ${env:PROTOCOL} (19 characters)',
      'authentication.methods.jwt.jwks_url: authentication: jwks_url parse the value of ${env:JWKS_URL} (41 characters): not an absolute http(s) URL',
    ]);
    expect(allText(error)).not.toContain('env-s3cr3t');
  });
});
