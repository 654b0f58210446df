import type { FastifyReply, FastifyRequest } from 'fastify';
import { wantsPage } from '../../core/http/authenticate.ts';
import { createCrossOriginCheck } from '../../core/http/csrf.ts';
import { GrpcCode, sendError, UNAUTHENTICATED_MESSAGE } from '../../core/http/errors.ts';
import type { Runtime } from '../../core/runtime.ts';
import {
  type AuthenticationJson,
  credentialOf,
  loginLocation,
  NOT_REQUIRED,
  type PageContext,
  sendNotice,
  whoIsCalling,
} from '../context.ts';
import { formTokenMatches } from '../form-token.ts';

/**
 * Who is signed in, for a page that needs someone: `undefined` once the reply has been sent instead — a browser
 * without a valid session is sent to the login page (and back here after), a caller that is not a browser gets
 * Flipt's 401 JSON, and with `authentication.required: false` a page says that no one is signed in
 * (Flipt then authenticates no request, so a login could never be seen).
 */
export async function signedIn(
  context: PageContext,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<AuthenticationJson | undefined> {
  const { who, status, message } = await whoIsCalling(context, request);
  if (who !== undefined) return who;
  if (!context.runtime.config.authentication.required) {
    sendNotice(context, request, reply, NOT_REQUIRED);
    return undefined;
  }
  if (status === 401) {
    if (wantsPage(request.headers)) {
      const replayable = request.method === 'GET' || request.method === 'HEAD';
      const returnTo = replayable ? `${context.prefix}${request.url}` : `${context.base}/`;
      reply.code(303).header('location', loginLocation(context.base, returnTo)).send();
    } else {
      // Not a browser: the API's answer, as every protected path gives it.
      sendError(reply, GrpcCode.UNAUTHENTICATED, message ?? UNAUTHENTICATED_MESSAGE);
    }
    return undefined;
  }
  sendNotice(
    context,
    request,
    reply,
    {
      title: 'Unavailable',
      heading: 'Something went wrong',
      text: message ?? `The server answered ${status}.`,
      ...(request.method === 'GET' && {
        back: { href: `${context.prefix}${request.url}`, label: 'Try again' },
      }),
    },
    { status },
  );
  return undefined;
}

const checks = new WeakMap<Runtime, ReturnType<typeof createCrossOriginCheck>>();

/**
 * Whether a form post may be acted on: from this origin by Go's cross-origin rules (always on for the UI's forms,
 * whether or not `session.csrf.key` turns them on for the API; `csrf.trusted_origins` honoured), and carrying the
 * form token of the credential it came with. Otherwise a 403 page has been sent (with the navigation when `who` is
 * known).
 */
export function formAllowed(
  context: PageContext,
  request: FastifyRequest,
  reply: FastifyReply,
  who?: AuthenticationJson,
): boolean {
  const { runtime } = context;
  let check = checks.get(runtime);
  if (check === undefined) {
    const { csrf } = runtime.config.authentication.session;
    check = createCrossOriginCheck({ csrf: { ...csrf, key: 'web-ui' } }, runtime.log);
    checks.set(runtime, check);
  }
  const crossOrigin = check?.(request.method, request.headers);
  const credential = credentialOf(request);
  const body = (request.body ?? {}) as Record<string, unknown>;
  if (
    crossOrigin === undefined &&
    credential !== undefined &&
    formTokenMatches(credential, body.form_token)
  ) {
    return true;
  }
  runtime.log.warn(
    { path: request.url.split('?')[0], reason: crossOrigin ?? 'form token missing or wrong' },
    'web UI form refused',
  );
  sendNotice(
    context,
    request,
    reply,
    {
      title: 'Refused',
      heading: 'This form could not be accepted',
      text: 'It did not come from this site, or your session changed since the page was loaded. Go back, reload the page and try again.',
      ...(request.url.startsWith('/auth/ui/tokens') && {
        back: { href: `${context.base}/tokens`, label: 'Back to tokens' },
      }),
    },
    { status: 403, ...(who !== undefined && { who }) },
  );
  return false;
}
