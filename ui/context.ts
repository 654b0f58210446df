import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { readCookie, TOKEN_COOKIE } from '../core/http/cookies.ts';
import { forwardedPrefix } from '../core/http/forwarded.ts';
import type { Runtime } from '../core/runtime.ts';
import { type ApiAnswer, callApi } from './api-client.ts';
import { formToken } from './form-token.ts';
import { pageHeaders } from './page-headers.ts';
import { assetUrl, render } from './render.ts';

/** An authentication as the API's JSON gives it (`GET /auth/v1/self`, `/auth/v1/tokens`). */
export interface AuthenticationJson {
  readonly id: string;
  readonly method: string;
  readonly expiresAt?: string | null;
  readonly createdAt?: string;
  readonly updatedAt?: string;
  readonly metadata?: Record<string, string>;
}

/** What every page of one request shares. */
export interface PageContext {
  readonly app: FastifyInstance;
  readonly runtime: Runtime;
  /** The forwarded prefix (`""` without one). */
  readonly prefix: string;
  /** `<prefix>/auth/ui`: where the UI's pages are, for this request. */
  readonly base: string;
}

export function pageContext(app: FastifyInstance, runtime: Runtime, request: FastifyRequest): PageContext {
  const prefix = forwardedPrefix(request.headers['x-forwarded-prefix']);
  return { app, runtime, prefix, base: `${prefix}/auth/ui` };
}

/** The credential the browser sent (the `Authorization` header, else the session cookie), for form tokens. */
export function credentialOf(request: FastifyRequest): string | undefined {
  return request.headers.authorization ?? readCookie(request.headers.cookie, TOKEN_COOKIE);
}

/** Who is calling, as `GET /auth/v1/self` answers; `undefined` with the status when it refuses. */
export async function whoIsCalling(
  context: PageContext,
  request: FastifyRequest,
): Promise<{ who?: AuthenticationJson; status: number; message?: string }> {
  const answer = await callApi<AuthenticationJson>(context.app, request, {
    method: 'GET',
    url: '/auth/v1/self',
  });
  if (answer.status === 200) return { who: answer.body, status: 200 };
  return {
    status: answer.status,
    ...(answer.body.message !== undefined && { message: answer.body.message }),
  };
}

/** The login page's URL for a browser to come back to `returnTo` after login. */
export function loginLocation(base: string, returnTo?: string): string {
  return returnTo === undefined ? `${base}/login` : `${base}/login?return_to=${encodeURIComponent(returnTo)}`;
}

/** A metadata value of an authentication: `io.flipt.auth.<name>`, else the method's own `io.flipt.auth.<m>.<name>`. */
export function profileField(
  who: AuthenticationJson,
  name: 'name' | 'email' | 'picture',
): string | undefined {
  const metadata = who.metadata ?? {};
  const method = who.method.replace(/^METHOD_/, '').toLowerCase();
  const value = metadata[`io.flipt.auth.${name}`] ?? metadata[`io.flipt.auth.${method}.${name}`];
  return value === undefined || value === '' ? undefined : value;
}

/** Options of {@link sendPage}. */
export interface PageOptions {
  readonly status?: number;
  /** Origins (`scheme://host[:port]`) the page shows images from, added to the CSP's `img-src`. */
  readonly images?: readonly string[];
  /** Who is signed in, for the navigation. */
  readonly who?: AuthenticationJson;
}

/** Renders `template` inside the layout and sends it with the page headers. */
export function sendPage(
  context: PageContext,
  request: FastifyRequest,
  reply: FastifyReply,
  template: string,
  data: Record<string, unknown>,
  options: PageOptions = {},
) {
  const credential = credentialOf(request);
  const page = {
    ...data,
    base: context.base,
    who: options.who,
    formToken: credential === undefined ? '' : formToken(credential),
    // Flipt's `ui.default_theme`: the theme until the reader picks one.
    theme: context.runtime.config.ui?.default_theme ?? 'system',
    assets: {
      css: assetUrl(context.prefix, 'ui.css'),
      js: assetUrl(context.prefix, 'ui.js'),
      icon: assetUrl(context.prefix, 'icon.svg'),
    },
  };
  return pageHeaders(reply.code(options.status ?? 200), options.images).send(render(template, page));
}

/** What a notice page says. */
export interface Notice {
  readonly title: string;
  readonly heading: string;
  readonly text: string;
  /** Where its one button goes (the session page, "Back", when not given; none with `false`). */
  readonly back?: { readonly href: string; readonly label: string } | false;
}

/**
 * What the pages say with `authentication.required: false`: Flipt then authenticates no request, so signing in
 * would store a session that nothing ever reads.
 */
export const NOT_REQUIRED: Notice = {
  title: 'No sign-in',
  heading: 'Signing in is not needed here',
  text: 'This server is configured with authentication.required: false: it authenticates no request, so there is no session to sign in to or to show.',
  back: false,
};

/** A page that only says something (a refusal, a failure), with a link back. */
export function sendNotice(
  context: PageContext,
  request: FastifyRequest,
  reply: FastifyReply,
  notice: Notice,
  options: PageOptions = {},
) {
  return sendPage(context, request, reply, 'notice', { ...notice }, options);
}

/** What the API said when it refused: its message, or its status when it gave none. */
export function apiProblem(answer: ApiAnswer<unknown>): string {
  return answer.body.message ?? `The server answered ${answer.status}.`;
}
