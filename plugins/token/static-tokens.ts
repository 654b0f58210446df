import type { ConfigIssue, KnownClientToken } from '../../core/plugins/kit/index.ts';
import { frozenAuthentication, quoteValue, requiredMessage } from '../../core/plugins/kit/index.ts';

/** A token from `storage.tokens`. */
export interface StaticToken {
  readonly name: string;
  readonly credential: string;
  readonly metadata: Readonly<Record<string, string>>;
}

/** Why a static token cannot be used: an empty credential, or the same credential as another token. */
export type CredentialProblem = { readonly name: string } & (
  | { readonly empty: true }
  | { readonly sameAs: string }
);

/**
 * Static tokens that cannot be told apart or that anyone could present: an empty (or blank) credential would let
 * `Authorization: Bearer ` authenticate, and two tokens with one credential make the caller's identity arbitrary.
 * Flipt accepts both; we refuse them.
 */
export function credentialProblems(
  tokens: ReadonlyArray<{ readonly name: string; readonly credential: string }>,
): CredentialProblem[] {
  const problems: CredentialProblem[] = [];
  const owners = new Map<string, string>();
  for (const { name, credential } of tokens) {
    if (credential.trim() === '') {
      problems.push({ name, empty: true });
      continue;
    }
    // By bytes, as requests are matched: two strings can encode alike (lone surrogates both become U+FFFD).
    const key = Buffer.from(credential, 'utf8').toString('base64');
    const owner = owners.get(key);
    if (owner === undefined) owners.set(key, name);
    else problems.push({ name, sameAs: owner });
  }
  return problems;
}

/**
 * The problems as configuration issues, relative to the method's block. `resolved` words them for credentials
 * whose `${secret:...}` references have been resolved: the message says so, and never what the value is.
 */
export function credentialIssues(
  tokens: ReadonlyArray<{ readonly name: string; readonly credential: string }>,
  resolved: boolean,
): ConfigIssue[] {
  return credentialProblems(tokens).map((problem) => ({
    path: ['storage', 'tokens', problem.name, 'credential'],
    message:
      'empty' in problem
        ? resolved
          ? `${requiredMessage('authentication', 'credential')} (the secret it references is empty)`
          : requiredMessage('authentication', 'credential')
        : resolved
          ? `authentication: credential resolves to the same value as token ${quoteValue(problem.sameAs)}'s; each token needs its own`
          : `authentication: credential is the same as token ${quoteValue(problem.sameAs)}'s; each token needs its own`,
  }));
}

/**
 * Flipt's static-token store (`getAuthStore`'s overlay): configured tokens answer client-token lookups before the
 * session store, as `METHOD_TOKEN` authentications whose id is the token's name, created at start-up, never
 * expiring. They cannot be listed, fetched by id, expired or deleted, since the store never holds them. Declared to
 * the core by value (`MethodInstance.clientTokens`), which matches a request's token against them in constant time
 * before hashing it. Each authentication is the same object on every request, which no caller can change
 * (`frozenAuthentication`), so that a request authenticated by it costs no copy and no check of the answer.
 */
export function staticClientTokens(tokens: readonly StaticToken[], startedAt: Date): KnownClientToken[] {
  return tokens.map((token) => ({
    credential: token.credential,
    authentication: frozenAuthentication({
      id: token.name,
      method: 'METHOD_TOKEN',
      createdAt: startedAt,
      updatedAt: startedAt,
      metadata: token.metadata,
    }),
  }));
}
