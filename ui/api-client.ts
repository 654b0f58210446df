import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** What the `/auth/v1` API answered the UI. */
export interface ApiAnswer<T> {
  readonly status: number;
  /** The JSON body: the answer on a 2xx, Flipt's `{code, message, details}` otherwise. */
  readonly body: T & { readonly message?: string; readonly code?: number };
  /** Its `Set-Cookie` headers (the session cookies a logout clears, a login's state cookie). */
  readonly setCookies: readonly string[];
}

/** The headers of the browser's request that the API reads: its credential, its `Host` and its forwarded prefix. */
/**
 * What the API call takes of the browser's request: its credential, its host and prefix, and `X-Forwarded-For`, so
 * that an audit event of the call names the browser past trusted proxies as it would for a direct API request (the
 * call comes from the browser's own address, `remoteAddress`).
 */
const PASSED_HEADERS = ['cookie', 'authorization', 'host', 'x-forwarded-prefix', 'x-forwarded-for'] as const;

/**
 * Calls the `/auth/v1` API in process (Fastify's `inject`), as the browser's request would: the web UI is a client
 * of the API, never a second copy of its rules, so a page shows and does exactly what the API answers and allows.
 */
export async function callApi<T = Record<string, unknown>>(
  app: FastifyInstance,
  request: FastifyRequest,
  call: { readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE'; readonly url: string; readonly body?: object },
): Promise<ApiAnswer<T>> {
  const headers: Record<string, string> = { accept: 'application/json' };
  for (const name of PASSED_HEADERS) {
    const value = request.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  const response = await app.inject({
    method: call.method,
    url: call.url,
    headers: call.body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
    ...(call.body !== undefined && { payload: JSON.stringify(call.body) }),
    remoteAddress: request.ip,
  });
  const raw = response.headers['set-cookie'];
  const setCookies = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  let body: unknown = {};
  try {
    body = response.body === '' ? {} : JSON.parse(response.body);
  } catch {
    body = { message: response.body };
  }
  return { status: response.statusCode, body: body as ApiAnswer<T>['body'], setCookies };
}

/** Passes an API answer's `Set-Cookie` headers on to the browser. */
export function passCookies(reply: FastifyReply, answer: ApiAnswer<unknown>): void {
  for (const cookie of answer.setCookies) reply.header('set-cookie', cookie);
}
