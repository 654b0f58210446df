import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { setReturnToCookie } from '../../core/http/cookies.ts';
import { safeReturnTo } from '../../core/http/return-to.ts';
import type { Runtime } from '../../core/runtime.ts';
import { callApi, passCookies } from '../api-client.ts';
import {
  credentialOf,
  loginLocation,
  NOT_REQUIRED,
  type PageContext,
  pageContext,
  sendNotice,
  sendPage,
  whoIsCalling,
} from '../context.ts';
import { setFlash, takeFlash } from '../flash.ts';
import { type ListedMethod, type LoginButton, loginButtons } from '../login-buttons.ts';

/**
 * The sentence a login page shows for a refused or failed login: the API's own message (Flipt's words, which
 * never hold a credential), without the step name it starts with, after what kind of failure it was.
 */
export function loginProblem(status: number, message: string | undefined): string {
  const detail = (message ?? '').replace(/^(authorize|callback): /, '').trim();
  const said = detail === '' ? '' : ` (${detail})`;
  // A 5xx may be the provider, or this server's own store: the API's message says which.
  if (status >= 500) return `Sign-in is unavailable right now. Try again in a moment${said}.`;
  if (status === 401 || status === 403) return `Sign-in was refused${said}.`;
  return `Sign-in failed${said}.`;
}

/** The single `return_to` of a query, or `undefined`. */
function returnToOf(request: FastifyRequest): string | undefined {
  const value = (request.query as Record<string, unknown>).return_to;
  return typeof value === 'string' ? value : undefined;
}

async function buttonsFor(context: PageContext, request: FastifyRequest): Promise<LoginButton[]> {
  const answer = await callApi<{ methods?: ListedMethod[] }>(context.app, request, {
    method: 'GET',
    url: '/auth/v1/method',
  });
  return loginButtons(answer.body.methods ?? []);
}

function startUrl(context: PageContext, button: LoginButton, returnTo: string): string {
  const path = [button.method, button.provider].filter((part) => part !== undefined).map(encodeURIComponent);
  return `${context.base}/login/${path.join('/')}?return_to=${encodeURIComponent(returnTo)}`;
}

/**
 * Makes the reply a 303 back to the login page (under `base`) with `text` as its message, keeping where the browser
 * was going. The message's cookie is `SameSite=Lax`: a browser may arrive from the provider's site, and a Strict
 * cookie would not be sent along the redirect.
 */
export function backToLogin(
  reply: FastifyReply,
  page: { readonly base: string; readonly secure: boolean },
  returnTo: string,
  text: string,
): FastifyReply {
  setFlash(
    reply,
    { kind: 'error', text },
    { path: `${page.base}/login`, secure: page.secure, sameSite: 'Lax' },
  );
  return reply.code(303).header('location', loginLocation(page.base, returnTo));
}

/**
 * `GET /auth/ui/login`: one button per provider of each enabled session-compatible method; a browser already
 * signed in goes on to its `return_to`. `GET /auth/ui/login/<method>[/<provider>]`: a button's start — keeps the
 * `return_to` in a cookie for the end of the login, runs the method's `authorize` through the API and sends the
 * browser to the provider (or back here with the reason when that fails).
 */
export function loginPages(runtime: Runtime, app: FastifyInstance) {
  return async (scope: FastifyInstance): Promise<void> => {
    scope.get('/login', async (request, reply) => {
      const context = pageContext(app, runtime, request);
      const returnTo = safeReturnTo(returnToOf(request), `${context.base}/`);
      const flash = takeFlash(request, reply, {
        path: `${context.base}/login`,
        secure: runtime.session.secure,
      });
      // Asked only of a browser that sent a credential: every other look at the login page would log a refusal.
      if (
        flash === undefined &&
        runtime.config.authentication.required &&
        credentialOf(request) !== undefined
      ) {
        const { who } = await whoIsCalling(context, request);
        if (who !== undefined) return reply.code(303).header('location', returnTo).send();
      }
      if (!runtime.config.authentication.required) return sendNotice(context, request, reply, NOT_REQUIRED);
      const buttons = await buttonsFor(context, request);
      return sendPage(context, request, reply, 'login', {
        title: 'Sign in',
        flash,
        buttons: buttons.map((button) => ({
          label: button.label,
          href: startUrl(context, button, returnTo),
        })),
      });
    });

    const start = async (request: FastifyRequest, reply: FastifyReply) => {
      const context = pageContext(app, runtime, request);
      if (!runtime.config.authentication.required) return sendNotice(context, request, reply, NOT_REQUIRED);
      const { method, provider } = request.params as { method: string; provider?: string };
      const returnTo = safeReturnTo(returnToOf(request), `${context.base}/`);
      const button = (await buttonsFor(context, request)).find(
        (candidate) => candidate.method === method && candidate.provider === provider,
      );
      if (button === undefined) {
        const page = { base: context.base, secure: runtime.session.secure };
        return backToLogin(reply, page, returnTo, 'There is no such sign-in option.').send();
      }
      // Set only once the login really starts: a start that fails must not leave a return_to behind for a login
      // started later some other way (which then ends as Flipt's does).
      const session = runtime.config.authentication.session;
      if ('page' in button.start) {
        setReturnToCookie(reply, session, returnTo);
        return reply.code(303).header('location', button.start.page).send();
      }
      // The listed URL carries the forwarded prefix; the API is reached in process, without it.
      const authorize = button.start.authorize.slice(context.prefix.length);
      const answer = await callApi<{ authorizeUrl?: string }>(app, request, {
        method: 'GET',
        url: authorize,
      });
      if (answer.status !== 200 || typeof answer.body.authorizeUrl !== 'string') {
        const page = { base: context.base, secure: runtime.session.secure };
        return backToLogin(reply, page, returnTo, loginProblem(answer.status, answer.body.message)).send();
      }
      passCookies(reply, answer);
      setReturnToCookie(reply, session, returnTo);
      return reply.code(303).header('location', answer.body.authorizeUrl).send();
    };
    // Not for HEAD: a start stores a login's challenge and sets cookies, for a browser that goes on to the provider.
    scope.get('/login/:method', { exposeHeadRoute: false }, start);
    scope.get('/login/:method/:provider', { exposeHeadRoute: false }, start);
  };
}
