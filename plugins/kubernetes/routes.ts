import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { MethodContext } from '../../core/plugins/kit/index.ts';
import { authenticationJson, ErrorCodes, errorMessage, PluginError } from '../../core/plugins/kit/index.ts';
import type { ClusterIssuer } from './cluster.ts';
import type { KubernetesConfig } from './config.ts';
import { allowListProblem, serviceAccountMetadata, serviceAccountOf } from './service-account.ts';

/** Service account tokens whose latest exchange this instance remembers (one stored authentication each). */
const REMEMBERED_EXCHANGES = 100_000;
/** Characters of a refusal's reason sent back (the reason may quote the token). */
const MAX_REASON = 200;

/**
 * `POST /auth/v1/method/kubernetes/serviceaccount` `{"serviceAccountToken": "..."}`: a verified service account
 * token is exchanged for a stored client token that expires with it (the seeds' behaviour), with Flipt's
 * `io.flipt.auth.k8s.*` metadata. Exchanging the same token again replaces the authentication of the last
 * exchange, so a replayed token cannot fill the store. A refused token is a 401 (Flipt answers 500) with Flipt's
 * message.
 */
export function kubernetesRoutes(
  ctx: MethodContext,
  config: KubernetesConfig,
  cluster: ClusterIssuer,
): (app: FastifyInstance) => void {
  const exchanged = new Map<string, string>();

  async function exchange(request: FastifyRequest) {
    const body = (request.body ?? {}) as Record<string, unknown>;
    const token = body.serviceAccountToken ?? body.service_account_token;
    // A login attempt (metrics, audit events): it succeeds when the exchange answers with a client token.
    ctx.session.beginLogin(request);
    let account: ReturnType<typeof serviceAccountOf>;
    let expiresAt: Date;
    try {
      if (typeof token !== 'string' || token === '') throw new Error('no serviceAccountToken in the request');
      const claims = await cluster.verify(token);
      account = serviceAccountOf(claims);
      const refusal = allowListProblem(config, account);
      if (refusal !== undefined) throw Object.assign(new Error(refusal), { notAllowed: true });
      expiresAt = new Date((claims.exp as number) * 1000);
    } catch (error) {
      const reason = errorMessage(error).slice(0, MAX_REASON);
      ctx.log.warn({ reason }, 'service account refused');
      const notAllowed = (error as { notAllowed?: unknown }).notAllowed === true;
      throw new PluginError(
        ErrorCodes.UNAUTHENTICATED,
        `verifying service account: ${reason}`,
        notAllowed ? { reason: 'service_account_not_allowed' } : { reason: 'service_account_refused' },
      );
    }

    const key = createHash('sha256').update(token).digest('base64url');
    const previous = exchanged.get(key);
    if (previous !== undefined) await ctx.store.deleteAuthentications({ id: previous });
    const { clientToken, authentication } = await ctx.store.createAuthentication({
      method: 'METHOD_KUBERNETES',
      expiresAt,
      metadata: serviceAccountMetadata(account),
    });
    exchanged.delete(key);
    if (exchanged.size >= REMEMBERED_EXCHANGES) exchanged.delete(exchanged.keys().next().value as string);
    exchanged.set(key, authentication.id);
    ctx.log.info(
      { namespace: account?.namespace, serviceAccount: account?.name, id: authentication.id },
      'service account exchanged',
    );
    return { clientToken, authentication: authenticationJson(authentication) };
  }

  return (app) => {
    app.post('/serviceaccount', { config: { authenticate: false }, bodyLimit: 64 * 1024 }, exchange);
  };
}
