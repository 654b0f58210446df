import type { MethodContext } from '../../core/plugins/kit/index.ts';
import { TOKEN_DESCRIPTION_KEY, TOKEN_NAME_KEY } from './routes.ts';

/** The name of the token created at first start. */
export const BOOTSTRAP_TOKEN_NAME = 'initial_bootstrap_token';

/**
 * Creates the `initial_bootstrap_token` unless the store already holds one (a shared Redis, a restart): with the
 * configured `bootstrap.token` and `bootstrap.expiration` when set. A token generated here is logged once, with the
 * field `client_token`, so an operator can find it; a configured one is not (the operator knows it).
 */
export async function bootstrap(
  ctx: MethodContext,
  settings: { token?: string; expiration?: number },
): Promise<void> {
  let pageToken = '';
  do {
    const page = await ctx.store.listAuthentications({ method: 'METHOD_TOKEN', limit: 100, pageToken });
    if (page.authentications.some((a) => a.metadata[TOKEN_NAME_KEY] === BOOTSTRAP_TOKEN_NAME)) return;
    pageToken = page.nextPageToken;
  } while (pageToken !== '');

  const configured = settings.token !== undefined && settings.token !== '';
  const { clientToken, authentication } = await ctx.store.createAuthentication({
    method: 'METHOD_TOKEN',
    metadata: {
      [TOKEN_NAME_KEY]: BOOTSTRAP_TOKEN_NAME,
      [TOKEN_DESCRIPTION_KEY]: 'Initial token created when bootstrapping authentication',
    },
    ...(configured && { clientToken: settings.token }),
    ...(settings.expiration !== undefined && {
      expiresAt: new Date(ctx.now().getTime() + settings.expiration),
    }),
  });
  if (configured) ctx.log.info({ id: authentication.id }, 'access token created from bootstrap.token');
  else ctx.log.info({ id: authentication.id, client_token: clientToken }, 'access token created');
}
