import type { FastifyInstance } from 'fastify';
import type { Runtime } from '../../core/runtime.ts';
import { parseUrl } from '../../core/url.ts';
import { callApi, passCookies } from '../api-client.ts';
import { apiProblem, pageContext, profileField, sendNotice, sendPage } from '../context.ts';
import { setFlash } from '../flash.ts';
import { displayName, methodName } from '../login-buttons.ts';
import { formAllowed, signedIn } from './guard.ts';

/** The origin of a picture URL a provider gave, when it is one a page may load (`https:`, or `http:` on loopback). */
function pictureOrigin(picture: string | undefined): string | undefined {
  const url = picture === undefined ? undefined : parseUrl(picture);
  if (url === undefined) return undefined;
  const loopback = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/.test(url.hostname);
  return url.protocol === 'https:' || (url.protocol === 'http:' && loopback) ? url.origin : undefined;
}

/**
 * `GET /auth/ui/`: who is signed in (method, name, email, picture, when the session ends) and a log out button.
 * `POST /auth/ui/logout`: the API's `DELETE /auth/v1/self/revoke`; when the provider has an end-session endpoint
 * (RP-initiated logout), a page sends the browser on to it, else the login page says the session ended.
 */
export function sessionPages(runtime: Runtime, app: FastifyInstance) {
  return async (scope: FastifyInstance): Promise<void> => {
    scope.get('/', async (request, reply) => {
      const context = pageContext(app, runtime, request);
      const who = await signedIn(context, request, reply);
      if (who === undefined) return reply;
      const picture = profileField(who, 'picture');
      const origin = pictureOrigin(picture);
      const metadata = who.metadata ?? {};
      const provider = metadata['io.flipt.auth.oidc.provider'];
      return sendPage(
        context,
        request,
        reply,
        'session',
        {
          title: 'Session',
          method: methodName(who.method) + (provider ? ` (${displayName(provider)})` : ''),
          name: profileField(who, 'name'),
          email: profileField(who, 'email'),
          username: metadata['io.flipt.auth.github.preferred_username'],
          picture: origin === undefined ? undefined : picture,
          expiresAt: who.expiresAt ?? undefined,
          createdAt: who.createdAt,
        },
        { who, images: origin === undefined ? [] : [origin] },
      );
    });

    scope.post('/logout', async (request, reply) => {
      const context = pageContext(app, runtime, request);
      if (!formAllowed(context, request, reply)) return reply;
      const answer = await callApi<{ nextUri?: string }>(app, request, {
        method: 'DELETE',
        url: '/auth/v1/self/revoke',
      });
      passCookies(reply, answer);
      const nextUri = answer.body.nextUri;
      // A page of the provider's, over HTTP(S): anything else (a `javascript:` URL from a faulty plugin) is dropped.
      const next = typeof nextUri === 'string' ? parseUrl(nextUri) : undefined;
      if (answer.status === 200 && (next?.protocol === 'https:' || next?.protocol === 'http:')) {
        return sendPage(context, request, reply, 'logout', { title: 'Signing out', nextUri });
      }
      if (answer.status !== 200 && answer.status !== 401) {
        const text = `${apiProblem(answer)} Try again in a moment.`;
        const notice = { title: 'Not signed out', heading: 'The session could not be ended', text };
        return sendNotice(context, request, reply, notice, { status: answer.status });
      }
      setFlash(
        reply,
        { kind: 'notice', text: 'You have been signed out.' },
        { path: `${context.base}/login`, secure: runtime.session.secure, sameSite: 'Strict' },
      );
      return reply.code(303).header('location', `${context.base}/login`).send();
    });
  };
}
