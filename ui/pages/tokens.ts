import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Runtime } from '../../core/runtime.ts';
import { AUTHENTICATION_NOT_FOUND } from '../../core/store/shared.ts';
import { type ApiAnswer, callApi } from '../api-client.ts';
import {
  type AuthenticationJson,
  apiProblem,
  type Notice,
  type PageContext,
  pageContext,
  sendNotice,
  sendPage,
} from '../context.ts';
import { type Flash, setFlash, takeFlash } from '../flash.ts';
import { type ListedMethod, methodName } from '../login-buttons.ts';
import { formAllowed, signedIn } from './guard.ts';

const NAME_KEY = 'io.flipt.auth.token.name';
/** A path segment URL parsers remove (`.`, `..`). */
const DOT_SEGMENT = /^\.{1,2}$/;
/** The API's URL of one authentication. */
const tokenUrl = (id: string) => `/auth/v1/tokens/${encodeURIComponent(id)}`;
const DESCRIPTION_KEY = 'io.flipt.auth.token.description';
/** Rows per page. */
const PAGE_SIZE = 20;
/** The expiries the create form offers, in days (0: never). */
export const EXPIRY_DAYS = [0, 1, 7, 30, 90, 365] as const;

/** A token form's values, kept when the API refuses them. */
interface TokenForm {
  readonly name: string;
  readonly description: string;
  readonly expiresInDays: number;
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function query(request: FastifyRequest): Record<string, string> {
  const entries = Object.entries(request.query as Record<string, unknown>);
  return Object.fromEntries(entries.filter(([, value]) => typeof value === 'string')) as Record<
    string,
    string
  >;
}

/**
 * What the list says when the API refused it. A 400 is about the query (a stale page token, a method that is none),
 * which a link can set: the page says so in its own words rather than repeating it (a link must not make the page
 * say something).
 */
function listProblem(list: ApiAnswer<unknown>): string | undefined {
  if (list.status === 200) return undefined;
  if (list.status === 400)
    return 'This page of the list or this method filter is not valid. Start again from the first page.';
  return apiProblem(list);
}

/** What a page says when looking a token up failed: there is none (404), or the lookup itself failed. */
function lookupProblem(found: ApiAnswer<unknown>): Notice {
  return found.status === 404
    ? { title: 'Not found', heading: 'No such token', text: apiProblem(found) }
    : { title: 'Unavailable', heading: 'The token could not be looked up', text: apiProblem(found) };
}

/** A row of the table: what the API lists, with the token's name and description out of its metadata. */
function row(context: PageContext, authentication: AuthenticationJson) {
  const metadata = { ...(authentication.metadata ?? {}) };
  // A client token's name; for a session, who it is.
  const name = metadata[NAME_KEY] ?? metadata['io.flipt.auth.name'] ?? metadata['io.flipt.auth.email'];
  const description = metadata[DESCRIPTION_KEY];
  delete metadata[NAME_KEY];
  delete metadata[DESCRIPTION_KEY];
  return {
    id: authentication.id,
    name: name ?? '',
    description: description ?? '',
    method: methodName(authentication.method),
    createdAt: authentication.createdAt,
    expiresAt: authentication.expiresAt ?? undefined,
    metadata: Object.entries(metadata).sort(([a], [b]) => (a < b ? -1 : 1)),
    deleteHref: `${context.base}/tokens/${encodeURIComponent(authentication.id)}/delete`,
  };
}

/**
 * `GET /auth/ui/tokens`: the stored authentications (client tokens by default; any method by the filter) with
 * paging, and a form to create a client token when the token method is enabled. `POST /auth/ui/tokens` creates one
 * through `POST /auth/v1/method/token` and shows it once (post/redirect/get: a reload does not show it again).
 * `GET|POST /auth/ui/tokens/<id>/delete`: the confirmation, then `DELETE /auth/v1/tokens/<id>`.
 */
export function tokenPages(runtime: Runtime, app: FastifyInstance) {
  const flashPath = (context: PageContext) => `${context.base}/tokens`;

  async function listPage(
    context: PageContext,
    request: FastifyRequest,
    reply: FastifyReply,
    who: AuthenticationJson,
    extra: { flash?: Flash; form?: TokenForm; formError?: string; status?: number } = {},
  ) {
    const params = query(request);
    const method = params.method ?? 'METHOD_TOKEN';
    const search = new URLSearchParams({ method, limit: String(PAGE_SIZE) });
    if (params.pageToken !== undefined && params.pageToken !== '') search.set('pageToken', params.pageToken);
    const [list, methods] = await Promise.all([
      callApi<{ authentications?: AuthenticationJson[]; nextPageToken?: string }>(app, request, {
        method: 'GET',
        url: `/auth/v1/tokens?${search}`,
      }),
      callApi<{ methods?: ListedMethod[] }>(app, request, { method: 'GET', url: '/auth/v1/method' }),
    ]);
    const listed = methods.body.methods ?? [];
    const flash =
      extra.flash ?? takeFlash(request, reply, { path: flashPath(context), secure: runtime.session.secure });
    const next = list.body.nextPageToken;
    return sendPage(
      context,
      request,
      reply,
      'tokens',
      {
        title: 'Tokens',
        flash,
        listError: listProblem(list),
        rows: (list.body.authentications ?? []).map((authentication) => row(context, authentication)),
        method,
        methods: [
          { value: 'METHOD_NONE', label: 'All methods' },
          ...listed.map((entry) => ({
            value: entry.method,
            label: methodName(entry.method),
          })),
        ],
        firstHref: params.pageToken ? `${context.base}/tokens?${new URLSearchParams({ method })}` : undefined,
        nextHref:
          typeof next === 'string' && next !== ''
            ? `${context.base}/tokens?${new URLSearchParams({ method, pageToken: next })}`
            : undefined,
        canCreate: listed.some((entry) => entry.method === 'METHOD_TOKEN' && entry.enabled),
        form: extra.form ?? { name: '', description: '', expiresInDays: 0 },
        formError: extra.formError,
        expiryDays: EXPIRY_DAYS,
      },
      { who, status: extra.status ?? (list.status === 200 ? 200 : list.status) },
    );
  }

  return async (scope: FastifyInstance): Promise<void> => {
    scope.get('/tokens', async (request, reply) => {
      const context = pageContext(app, runtime, request);
      const who = await signedIn(context, request, reply);
      if (who === undefined) return reply;
      return listPage(context, request, reply, who);
    });

    scope.post('/tokens', async (request, reply) => {
      const context = pageContext(app, runtime, request);
      const who = await signedIn(context, request, reply);
      if (who === undefined || !formAllowed(context, request, reply, who)) return reply;
      const body = (request.body ?? {}) as Record<string, unknown>;
      const days = Number(text(body.expires_in_days) || '0');
      const form: TokenForm = {
        name: text(body.name),
        description: text(body.description),
        expiresInDays: (EXPIRY_DAYS as readonly number[]).includes(days) ? days : 0,
      };
      if (!(EXPIRY_DAYS as readonly number[]).includes(days)) {
        return listPage(context, request, reply, who, {
          form,
          formError: 'Choose an expiry from the list.',
          status: 400,
        });
      }
      const expiresAt = days === 0 ? undefined : new Date(Date.now() + days * 86_400_000).toISOString();
      const answer = await callApi<{ clientToken?: string }>(app, request, {
        method: 'POST',
        url: '/auth/v1/method/token',
        body: { name: form.name, description: form.description, ...(expiresAt && { expiresAt }) },
      });
      if (answer.status !== 200 || typeof answer.body.clientToken !== 'string') {
        const formError = answer.body.message ?? `The server answered ${answer.status}`;
        return listPage(context, request, reply, who, {
          form,
          formError,
          status: answer.status === 200 ? 500 : answer.status,
        });
      }
      setFlash(
        reply,
        { kind: 'created', text: `Token “${form.name}” created.`, clientToken: answer.body.clientToken },
        { path: flashPath(context), secure: runtime.session.secure, sameSite: 'Strict' },
      );
      return reply.code(303).header('location', `${context.base}/tokens`).send();
    });

    /**
     * `GET /auth/v1/tokens/<id>`. An id that is a dot segment (`.`, `..`) cannot be put in a path (URL parsers,
     * `inject`'s among them, remove such segments, so it would name the collection): no token has one.
     */
    const findToken = async (request: FastifyRequest, id: string): Promise<ApiAnswer<AuthenticationJson>> =>
      DOT_SEGMENT.test(id)
        ? {
            status: 404,
            body: { message: AUTHENTICATION_NOT_FOUND } as unknown as AuthenticationJson,
            setCookies: [],
          }
        : callApi<AuthenticationJson>(app, request, { method: 'GET', url: tokenUrl(id) });

    scope.get('/tokens/:id/delete', async (request, reply) => {
      const context = pageContext(app, runtime, request);
      const who = await signedIn(context, request, reply);
      if (who === undefined) return reply;
      const { id } = request.params as { id: string };
      const found = await findToken(request, id);
      if (found.status !== 200) {
        return sendNotice(context, request, reply, lookupProblem(found), { who, status: found.status });
      }
      return sendPage(
        context,
        request,
        reply,
        'delete',
        {
          title: 'Delete token',
          token: row(context, found.body),
          own: found.body.id === who.id,
          action: `${context.base}/tokens/${encodeURIComponent(id)}/delete`,
        },
        { who },
      );
    });

    scope.post('/tokens/:id/delete', async (request, reply) => {
      const context = pageContext(app, runtime, request);
      const who = await signedIn(context, request, reply);
      if (who === undefined || !formAllowed(context, request, reply, who)) return reply;
      const { id } = request.params as { id: string };
      const found = await findToken(request, id);
      if (found.status !== 200) {
        // The API answers a delete of nothing with 200, as Flipt's does; a person is told there was nothing.
        return sendNotice(context, request, reply, lookupProblem(found), { who, status: found.status });
      }
      const answer = await callApi(app, request, { method: 'DELETE', url: tokenUrl(id) });
      if (answer.status !== 200) {
        const notice = {
          title: 'Not deleted',
          heading: 'The token could not be deleted',
          text: apiProblem(answer),
        };
        return sendNotice(context, request, reply, notice, { who, status: answer.status });
      }
      if (found.body.id === who.id) {
        // The caller's own session: its cookies go, and the next page is the login page.
        runtime.session.clearCookies(reply);
        setFlash(
          reply,
          { kind: 'notice', text: 'Your session was deleted. Sign in again to go on.' },
          { path: `${context.base}/login`, secure: runtime.session.secure, sameSite: 'Strict' },
        );
        return reply.code(303).header('location', `${context.base}/login`).send();
      }
      const name = found.body.metadata?.[NAME_KEY];
      setFlash(
        reply,
        { kind: 'notice', text: name ? `Token “${name}” deleted.` : `Authentication ${id} deleted.` },
        { path: flashPath(context), secure: runtime.session.secure, sameSite: 'Strict' },
      );
      return reply.code(303).header('location', `${context.base}/tokens`).send();
    });
  };
}
