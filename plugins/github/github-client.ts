import { STATUS_CODES } from 'node:http';
import type { FetchLike } from '../../core/plugins/kit/index.ts';
import { BodyTooLargeError, readTextLimited } from '../../core/plugins/kit/index.ts';

/** Flipt gives GitHub five seconds a call. */
export const GITHUB_TIMEOUT_MS = 5_000;
/** All the GitHub calls of one login together get this long, however many pages there are. */
export const GITHUB_LOGIN_DEADLINE_MS = 15_000;
/** Pages of 100 followed at most (5 000 organisations or teams); more refuses the login rather than guess. */
const MAX_PAGES = 50;
/** Bytes read of one GitHub answer at most. */
const MAX_BODY_BYTES = 5 * 1024 * 1024;
/** Characters of GitHub's own error message quoted back at most. */
const MAX_QUOTED = 200;

/** The parts of `GET /user` portcullis reads. */
export interface GithubUser {
  readonly login: string;
  readonly id: number;
  readonly name: string | null;
  readonly email: string | null;
  readonly avatar_url: string | null;
}

/** A team, as `GET /user/teams` lists it. */
export interface GithubTeam {
  readonly org: string;
  readonly slug: string;
}

/**
 * How a GitHub call failed: GitHub down, slow or rationing (`unavailable`: try again later), the token refused
 * (`unauthorized`), access refused for another reason (`forbidden`, say an organisation's SAML enforcement), or an
 * answer portcullis cannot use (`invalid`).
 */
export type GithubFailure = 'unavailable' | 'unauthorized' | 'forbidden' | 'invalid';

/** A GitHub call that failed; the message is Flipt's, with GitHub's own explanation after it when it gave one. */
export class GithubClientError extends Error {
  readonly failure: GithubFailure;

  constructor(failure: GithubFailure, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'GithubClientError';
    this.failure = failure;
  }
}

function failureOf(response: Response): GithubFailure {
  const { status, headers } = response;
  const rationed = headers.get('x-ratelimit-remaining') === '0' || headers.has('retry-after');
  if (status === 429 || (status === 403 && rationed) || status >= 500) return 'unavailable';
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  return 'invalid';
}

/** A response body as text, refusing more than `MAX_BODY_BYTES`. */
async function boundedText(response: Response, what: string): Promise<string> {
  try {
    return await readTextLimited(response, MAX_BODY_BYTES, what);
  } catch (error) {
    if (error instanceof BodyTooLargeError) throw new GithubClientError('invalid', error.message);
    throw error;
  }
}

/** A JSON body, or a clear error saying the answer was not JSON. */
export async function boundedJson(response: Response, what: string): Promise<unknown> {
  const text = await boundedText(response, what);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new GithubClientError('invalid', `${what}: not JSON`);
  }
}

/** GitHub's `message` from an error body, if it sent one, shortened. */
async function githubMessage(response: Response): Promise<string | undefined> {
  try {
    const body = JSON.parse(await boundedText(response, 'error')) as { message?: unknown };
    if (typeof body.message !== 'string') return undefined;
    return body.message.length > MAX_QUOTED ? `${body.message.slice(0, MAX_QUOTED)}…` : body.message;
  } catch {
    return undefined;
  }
}

/** The target of the `rel="next"` link of a `Link` header, resolved against the page it came with. */
function nextLink(header: string | null, base: string): string | undefined {
  for (const link of header?.split(/,(?=\s*<)/) ?? []) {
    const match = /^\s*<([^>]*)>(.*)$/.exec(link);
    const rels = /;\s*rel="?([^";]*)"?/.exec(match?.[2] ?? '')?.[1]?.split(/\s+/) ?? [];
    if (match !== null && rels.includes('next')) return new URL(match[1] as string, base).href;
  }
  return undefined;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The REST calls of one GitHub login, made with the user's access token, all within one deadline. */
export class GithubClient {
  readonly #fetch: FetchLike;
  readonly #base: string;
  readonly #token: string;
  readonly #deadline: AbortSignal;

  constructor(fetch: FetchLike, base: string, token: string) {
    this.#fetch = fetch;
    this.#base = base;
    this.#token = token;
    this.#deadline = AbortSignal.timeout(GITHUB_LOGIN_DEADLINE_MS);
  }

  async #get(path: string, url = `${this.#base}${path}`): Promise<Response> {
    let response: Response;
    try {
      response = await this.#fetch(url, {
        headers: {
          authorization: `Bearer ${this.#token}`,
          accept: 'application/vnd.github+json',
          'x-github-api-version': '2022-11-28',
          'user-agent': 'portcullis',
        },
        // GitHub's API does not redirect these; a redirect must not carry the token elsewhere.
        redirect: 'error',
        signal: AbortSignal.any([AbortSignal.timeout(GITHUB_TIMEOUT_MS), this.#deadline]),
      });
    } catch (error) {
      throw new GithubClientError(
        'unavailable',
        `github ${path} info request failed: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    if (response.status !== 200) {
      const explanation = await githubMessage(response);
      throw new GithubClientError(
        failureOf(response),
        `github ${path} info response status: "${response.status} ${STATUS_CODES[response.status] ?? ''}"${explanation === undefined ? '' : `: ${explanation}`}`,
      );
    }
    return response;
  }

  /**
   * Every item of a paginated list, following `Link: rel="next"` (Flipt reads the first page only). A list that
   * cannot be read to its end (a next page on another host, a loop, too many pages) refuses the login: deciding on
   * part of a user's teams could let in someone a rule meant to keep out.
   */
  async #all(path: string): Promise<unknown[]> {
    const items: unknown[] = [];
    const seen = new Set<string>();
    const origin = new URL(this.#base).origin;
    let url: string | undefined = `${this.#base}${path}?per_page=100`;
    while (url !== undefined) {
      if (seen.size >= MAX_PAGES || seen.has(url)) {
        throw new GithubClientError(
          'invalid',
          `github ${path}: the list does not end after ${seen.size} pages`,
        );
      }
      seen.add(url);
      const response = await this.#get(path, url);
      const page = await boundedJson(response, `github ${path} info response`);
      if (!Array.isArray(page))
        throw new GithubClientError('invalid', `github ${path} info response: not a list`);
      items.push(...page);
      url = nextLink(response.headers.get('link'), url);
      // The token goes only where the API is.
      if (url !== undefined && new URL(url).origin !== origin) {
        throw new GithubClientError('invalid', `github ${path}: the next page is on another host`);
      }
    }
    return items;
  }

  async user(): Promise<GithubUser> {
    const user = await boundedJson(await this.#get('/user'), 'github /user info response');
    const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : null);
    if (
      !isRecord(user) ||
      text(user.login) === null ||
      !Number.isSafeInteger(user.id) ||
      (user.id as number) <= 0
    ) {
      throw new GithubClientError('invalid', 'github /user info response: no login or id');
    }
    return {
      login: user.login as string,
      id: user.id as number,
      name: text(user.name),
      email: text(user.email),
      avatar_url: text(user.avatar_url),
    };
  }

  async organizations(): Promise<string[]> {
    return (await this.#all('/user/orgs')).flatMap((org) =>
      isRecord(org) && typeof org.login === 'string' && org.login !== '' ? [org.login] : [],
    );
  }

  async teams(): Promise<GithubTeam[]> {
    return (await this.#all('/user/teams')).flatMap((team) => {
      const org = isRecord(team) && isRecord(team.organization) ? team.organization.login : undefined;
      const slug = isRecord(team) ? team.slug : undefined;
      return typeof org === 'string' && org !== '' && typeof slug === 'string' && slug !== ''
        ? [{ org, slug }]
        : [];
    });
  }
}
