import { describe, expect, it } from 'vitest';
import { BUILTIN_PLUGINS } from '../plugins/builtins.ts';
import { applyEnvOverrides, substituteEnvReferences } from './env.ts';
import { assembleSchema } from './schema.ts';
import { rootCursor } from './schema-walk.ts';

describe('substituteEnvReferences', () => {
  it('replaces whole-value ${env:NAME} anywhere in the tree; unset means empty, as in Flipt', () => {
    const { tree, references } = substituteEnvReferences(
      { a: '${env:ONE}', b: ['${env:TWO}', 'x'], c: { d: '${env:UNSET}' } },
      { ONE: '1', TWO: '2' },
    );
    expect(tree).toEqual({ a: '1', b: ['2', 'x'], c: { d: '' } });
    expect(references).toEqual([
      { path: ['a'], variable: 'ONE' },
      { path: ['b', 0], variable: 'TWO' },
      { path: ['c', 'd'], variable: 'UNSET' },
    ]);
  });

  it('leaves references inside longer strings, v1 ${NAME} syntax and invalid names as written', () => {
    const values = { a: 'pre-${env:ONE}', b: '${ONE}', c: '${env:1BAD}', d: '${env:ONE} ' };
    expect(substituteEnvReferences(values, { ONE: '1' }).tree).toEqual(values);
  });
});

describe('applyEnvOverrides', () => {
  const schema = rootCursor(assembleSchema(BUILTIN_PLUGINS));
  const apply = (tree: Record<string, unknown>, env: Record<string, string>) =>
    applyEnvOverrides(tree, schema, env);

  it('sets fields by FLIPT_ + upper-cased path, creating what the file lacks', () => {
    const { tree, sources } = apply(
      {},
      {
        FLIPT_AUTHENTICATION_REQUIRED: 'true',
        FLIPT_AUTHENTICATION_SESSION_TOKEN_LIFETIME: '1h',
        FLIPT_AUTHENTICATION_SESSION_STORAGE_REDIS_NET_TIMEOUT: '2s',
        FLIPT_SECRETS_PROVIDERS_FILE_BASE_PATH: '/run/secrets',
        FLIPT_SERVER_HTTP_PORT: '9090',
      },
    );
    expect(tree).toEqual({
      authentication: {
        required: 'true',
        session: { token_lifetime: '1h', storage: { redis: { net_timeout: '2s' } } },
      },
      secrets: { providers: { file: { base_path: '/run/secrets' } } },
      server: { http_port: '9090' },
    });
    expect(sources).toContainEqual({ path: ['server', 'http_port'], variable: 'FLIPT_SERVER_HTTP_PORT' });
  });

  it('finds map keys the way Flipt does: the text before the first _<FIELD>, lower-cased', () => {
    const { tree } = apply(
      {},
      {
        FLIPT_AUTHENTICATION_METHODS_TOKEN_STORAGE_TOKENS_DEFAULT_VIEWER_CREDENTIAL: 'view',
        FLIPT_AUTHENTICATION_METHODS_TOKEN_STORAGE_TOKENS_BOOTSTRAP_CREDENTIAL: 's3cr3t',
        FLIPT_AUTHENTICATION_METHODS_TOKEN_STORAGE_TOKENS_BOOTSTRAP_METADATA_ROLE: 'admin',
        FLIPT_AUTHENTICATION_METHODS_OIDC_PROVIDERS_GOOGLE_CLIENT_ID: 'id',
        FLIPT_AUTHENTICATION_METHODS_OIDC_PROVIDERS_GOOGLE_CLIENT_SECRET: 'secret',
        FLIPT_AUTHENTICATION_METHODS_GITHUB_ALLOWED_TEAMS_MY_ORG: 'sre release',
      },
    );
    expect(tree).toEqual({
      authentication: {
        methods: {
          token: {
            storage: {
              tokens: {
                default_viewer: { credential: 'view' },
                bootstrap: { credential: 's3cr3t', metadata: { role: 'admin' } },
              },
            },
          },
          oidc: { providers: { google: { client_id: 'id', client_secret: 'secret' } } },
          github: { allowed_teams: { my_org: 'sre release' } },
        },
      },
    });
  });

  it('overrides an entry the file names in another case, keeping the file key', () => {
    const file = { authentication: { methods: { oidc: { providers: { Google: { client_id: 'file' } } } } } };
    const { tree } = apply(file, { FLIPT_AUTHENTICATION_METHODS_OIDC_PROVIDERS_GOOGLE_CLIENT_ID: 'env' });
    expect(tree).toEqual({
      authentication: { methods: { oidc: { providers: { Google: { client_id: 'env' } } } } },
    });
    expect(file.authentication.methods.oidc.providers.Google.client_id).toBe('file');
  });

  it('beats the file, and substitutes ${env:...} in the value like any other', () => {
    const { tree } = apply(
      { authentication: { required: false, session: { domain: 'file.example.com' } } },
      { FLIPT_AUTHENTICATION_SESSION_DOMAIN: '${env:PUBLIC_HOST}', PUBLIC_HOST: 'env.example.com' },
    );
    expect(tree).toEqual({ authentication: { required: false, session: { domain: 'env.example.com' } } });
  });

  it('ignores variables that name no setting, whole sections, and unused Flipt sections', () => {
    const file = { authentication: { session: 'on' } };
    const { tree, sources } = apply(file, {
      FLIPT_NOPE: 'x',
      FLIPT_AUTHENTICATION_SESSION: 'x',
      FLIPT_AUTHENTICATION_SESSION_DOMAIN: 'x',
      FLIPT_STORAGE_DEFAULT_REMOTE: 'https://example.com',
      NOT_FLIPT_AUTHENTICATION_REQUIRED: 'true',
    });
    expect(tree).toEqual(file);
    expect(sources).toEqual([]);
  });
});
