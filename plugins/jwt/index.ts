import { statSync } from 'node:fs';
import type { Authentication, ConfigIssue } from '../../core/plugins/kit/index.ts';
import {
  defineMethod,
  fieldMessage,
  isBlank,
  isHttpUrl,
  isSecretReference,
  jwtAuthentication,
  jwtIdentity,
  quoteValue,
  statFailure,
} from '../../core/plugins/kit/index.ts';
import type { JwtConfig } from './config.ts';
import configSchema from './schema.json' with { type: 'json' };

export type { JwtConfig } from './config.ts';

export default defineMethod<typeof configSchema, JwtConfig>({
  name: 'jwt',
  method: 'METHOD_JWT',
  methodNumber: 5,
  sessionCompatible: false,
  configSchema,
  validate(config) {
    const issues: ConfigIssue[] = [];
    const { jwks_url: jwksUrl, public_key_file: keyFile } = config;
    if (isBlank(jwksUrl) && isBlank(keyFile)) {
      issues.push({ path: [], message: 'authentication: one of jwks_url or public_key_file is required' });
    } else if (!isBlank(jwksUrl) && !isBlank(keyFile)) {
      issues.push({
        path: [],
        message: 'authentication: only one of jwks_url or public_key_file can be set',
      });
    }
    if (jwksUrl && !isSecretReference(jwksUrl) && !isHttpUrl(jwksUrl)) {
      issues.push({
        path: ['jwks_url'],
        message: fieldMessage(
          'authentication',
          'jwks_url',
          `parse ${quoteValue(jwksUrl)}: not an absolute http(s) URL`,
        ),
      });
    }
    if (keyFile && !isSecretReference(keyFile)) {
      try {
        statSync(keyFile);
      } catch (error) {
        issues.push({
          path: ['public_key_file'],
          message: fieldMessage('authentication', 'public_key_file', statFailure(keyFile, error)),
        });
      }
    }
    return issues;
  },
  async create(ctx, config) {
    const [{ jwksKeys, pemKeys }, { JwtVerifier }] = await Promise.all([
      import('./keys.ts'),
      import('./verifier.ts'),
    ]);
    let keys: Awaited<ReturnType<typeof pemKeys>>['keys'];
    if (config.jwks_url !== undefined && config.jwks_url !== '') keys = jwksKeys(config.jwks_url, ctx.fetch);
    else {
      const pem = await pemKeys(config.public_key_file ?? '');
      for (const skipped of pem.skipped) ctx.log.warn(`public_key_file: skipped ${skipped}`);
      keys = pem.keys;
    }
    // Frozen once, so that each token's authentication reads it when its metadata is made rather than copy it.
    const mapping = Object.freeze({ ...config.claims_mapping });
    // The verifier remembers a repeated token's authentication with it: built once per token, not per request, and its
    // metadata made only when something reads it (jwtAuthentication).
    const verifier = new JwtVerifier<Authentication>(
      keys,
      config.validate_claims,
      () => ctx.now().getTime(),
      (claims) => jwtAuthentication(claims, mapping),
    );
    return {
      schemes: ['JWT'],
      // With kubernetes also enabled, it comes first and takes the tokens of its cluster; every other JWT is ours.
      // At once for a token remembered or signed by a known key: no turn of the event loop on the request's path.
      authenticate: (credential) => verifier.verify(credential.value),
      identity: (authentication) => jwtIdentity(authentication.metadata),
    };
  },
});
