import { STATUS_CODES } from 'node:http';
import type { FetchLike } from '../../core/plugins/contracts.ts';

/** Flipt gives GitHub five seconds a call. */
export const GITHUB_TIMEOUT_MS = 5_000;
/** Pages of 100 followed at most: 10 000 organisations or teams. */
const MAX_PAGES = 100;

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

/** How a GitHub call failed. */
export type GithubFailure = 'unreachable' | 'rate-limited' | 'unauthorized' | 'forbidden' | 'error';

/** A GitHub call that failed; the message is Flipt's, with GitHub's own explanation after it when it gave one. */
export class GithubApiError extends Error {
  readonly failure: GithubFailure;
  readonly status: number | undefined;

  constructor(failure: GithubFailure, message: string, status?: number, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'GithubApiError';
    this.failure = failure;
    this.status = status;
  }
}

function failureOf(response: Response): GithubFailure {
  const { status } = response;
  if (status === 429 || (status === 403 && response.headers.get('x-ratelimit-remaining') === '0'))
    return 'rate-limited';
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  return status >= 500 ? 'unreachable' : 'error';
}

/** GitHub's `message` from an error body, if it sent one. */
async function githubMessage(response: Response): Promise<string | undefined> {
  try {
    const body = (await response.json()) as { message?: unknown };
    return typeof body.message === 'string' ? body.message : undefined;
  } catch {
    return undefined;
  }
}

/** The `rel="next"` target of a `Link` header. */
function nextLink(header: string | null): string | undefined {
  for (const part of header?.split(',') ?? []) {
    const match = /<([^>]+)>\s*;\s*rel="?next"?/.exec(part);
    if (match !== null) return match[1];
  }
  return undefined;
}

/** The REST calls of a GitHub login, made with the user's access token. */
export class GithubApi {
  readonly #fetch: FetchLike;
  readonly #base: string;
  readonly #token: string;

  constructor(fetch: FetchLike, base: string, token: string) {
    this.#fetch = fetch;
    this.#base = base;
    this.#token = token;
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
        signal: AbortSignal.timeout(GITHUB_TIMEOUT_MS),
      });
    } catch (error) {
      throw new GithubApiError(
        'unreachable',
        `github ${path} info request failed: ${(error as Error).message}`,
        undefined,
        {
          cause: error,
        },
      );
    }
    if (response.status !== 200) {
      const explanation = await githubMessage(response);
      throw new GithubApiError(
        failureOf(response),
        `github ${path} info response status: "${response.status} ${STATUS_CODES[response.status] ?? ''}"${explanation === undefined ? '' : `: ${explanation}`}`,
        response.status,
      );
    }
    return response;
  }

  /** Every item of a paginated list, following `Link: rel="next"` (Flipt reads the first page only). */
  async #all<T>(path: string): Promise<T[]> {
    const items: T[] = [];
    let url: string | undefined = `${this.#base}${path}?per_page=100`;
    for (let page = 0; url !== undefined && page < MAX_PAGES; page++) {
      const response = await this.#get(path, url);
      items.push(...((await response.json()) as T[]));
      const next = nextLink(response.headers.get('link'));
      // The token goes only where the API is.
      url = next !== undefined && new URL(next).origin === new URL(this.#base).origin ? next : undefined;
    }
    return items;
  }

  async user(): Promise<GithubUser> {
    return (await (await this.#get('/user')).json()) as GithubUser;
  }

  async organizations(): Promise<string[]> {
    return (await this.#all<{ login: string }>('/user/orgs')).map((org) => org.login);
  }

  async teams(): Promise<GithubTeam[]> {
    const teams = await this.#all<{ slug: string; organization: { login: string } }>('/user/teams');
    return teams.map((team) => ({ org: team.organization.login, slug: team.slug }));
  }
}
