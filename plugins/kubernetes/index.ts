import type { Authentication } from '../../core/plugins/kit/index.ts';
import { defineMethod, ErrorCodes, jwtAuthentication, jwtIdentity } from '../../core/plugins/kit/index.ts';
import type { KubernetesConfig } from './config.ts';
import configSchema from './schema.json' with { type: 'json' };

export type { KubernetesConfig } from './config.ts';

export default defineMethod<typeof configSchema, KubernetesConfig>({
  name: 'kubernetes',
  method: 'METHOD_KUBERNETES',
  methodNumber: 3,
  sessionCompatible: false,
  configSchema,
  async create(ctx, config) {
    const [{ ClusterIssuer }, { kubernetesRoutes }, { allowListProblem, serviceAccountOf }] =
      await Promise.all([import('./cluster.ts'), import('./routes.ts'), import('./service-account.ts')]);
    const cluster = await ClusterIssuer.connect(ctx, config);
    const built = new WeakMap<object, Authentication>();
    const jwt = ctx.root.authentication.methods.jwt as
      | { enabled?: boolean; claims_mapping?: Record<string, string>; validate_claims?: { issuer?: string } }
      | undefined;
    // A service account token sent as `Authorization: JWT` is a JWT authentication (as in Flipt v2), mapped by the
    // jwt method's claims_mapping when that method is on, else by Flipt's defaults.
    const mapping =
      jwt?.enabled === true && jwt.claims_mapping !== undefined
        ? Object.freeze({ ...jwt.claims_mapping })
        : undefined;
    // When the jwt method is told to expect this cluster's tokens, they are its to check (its audiences, subject).
    const jwtTakesClusterTokens = jwt?.enabled === true && jwt.validate_claims?.issuer === cluster.issuer;
    if (jwtTakesClusterTokens) {
      ctx.log.info(
        'jwt.validate_claims.issuer is this cluster: its tokens sent as Authorization: JWT go to jwt',
      );
    }
    return {
      routes: kubernetesRoutes(ctx, config, cluster),
      schemes: ['JWT'],
      async authenticate(credential) {
        // Tokens of another issuer are left to the jwt method, when it is enabled.
        if (jwtTakesClusterTokens || !cluster.claims(credential.value)) return null;
        const claims = await cluster.verify(credential.value);
        const refusal = allowListProblem(config, serviceAccountOf(claims));
        if (refusal !== undefined) {
          ctx.error(ErrorCodes.UNAUTHENTICATED, refusal, { reason: 'service_account_not_allowed' });
        }
        // The cluster hands back the same claims for a token it remembers; so is the authentication built once.
        let authentication = built.get(claims);
        if (authentication === undefined) {
          authentication = jwtAuthentication(claims, mapping);
          built.set(claims, authentication);
        }
        return authentication;
      },
      // Its exchanged client tokens are METHOD_KUBERNETES; what it takes as `Authorization: JWT` is METHOD_JWT.
      identity(authentication) {
        if (authentication.method === 'METHOD_JWT') return jwtIdentity(authentication.metadata);
        const namespace = authentication.metadata['io.flipt.auth.k8s.namespace'];
        const name = authentication.metadata['io.flipt.auth.k8s.serviceaccount.name'];
        return namespace !== undefined && name !== undefined ? { user: `${namespace}/${name}` } : {};
      },
    };
  },
});
