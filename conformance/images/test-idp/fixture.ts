import { readFileSync } from 'node:fs';

/**
 * An OAuth client of the OpenID provider. The field names are Dex's `staticClients` ones, so that
 * `conformance/fixtures/dex/config.yaml` is this data written out.
 */
export interface IdpClient {
  readonly id: string;
  readonly name: string;
  readonly secret: string;
  /** Exact matches: a `redirect_uri` that is not one of these is refused. */
  readonly redirectURIs: readonly string[];
  /** Exact matches for RP-initiated logout's `post_logout_redirect_uri`. */
  readonly postLogoutRedirectURIs: readonly string[];
}

/**
 * A user of the provider's password login. Dex's `staticPasswords` field names, with the password in plain text
 * (test data; Dex's config holds its bcrypt hash). The login form takes the email, as Dex's password DB does.
 */
export interface IdpUser {
  readonly username: string;
  /** The stable user id; the test IdP's `sub` (Dex encodes it, with the connector id, into its own `sub`). */
  readonly userID: string;
  readonly email: string;
  readonly password: string;
  readonly groups: readonly string[];
}

/** The clients and users both OpenID providers of the conformance suite serve (`conformance/fixtures/idp.json`). */
export interface IdpFixture {
  readonly clients: readonly IdpClient[];
  readonly users: readonly IdpUser[];
}

const isStrings = (value: unknown): value is string[] =>
  Array.isArray(value) && value.every((item) => typeof item === 'string');

/**
 * Checks parsed JSON is a fixture, naming the first field that is wrong (`source` says where it came from).
 * @throws Error on a missing or mistyped field.
 */
export function parseFixture(value: unknown, source: string): IdpFixture {
  const fixture = value as Partial<Record<keyof IdpFixture, unknown>> | null;
  if (fixture === null || !Array.isArray(fixture.clients) || !Array.isArray(fixture.users)) {
    throw new Error(`${source}: a fixture needs "clients" and "users" arrays`);
  }
  fixture.clients.forEach((client: Record<string, unknown>, index) => {
    for (const field of ['id', 'name', 'secret'] as const) {
      if (typeof client[field] !== 'string')
        throw new Error(`${source}: clients[${index}] needs a string "${field}"`);
    }
    for (const field of ['redirectURIs', 'postLogoutRedirectURIs'] as const) {
      if (!isStrings(client[field]))
        throw new Error(`${source}: clients[${index}] needs a string array "${field}"`);
    }
  });
  fixture.users.forEach((user: Record<string, unknown>, index) => {
    for (const field of ['username', 'userID', 'email', 'password'] as const) {
      if (typeof user[field] !== 'string')
        throw new Error(`${source}: users[${index}] needs a string "${field}"`);
    }
    if (!isStrings(user.groups)) throw new Error(`${source}: users[${index}] needs a string array "groups"`);
  });
  return fixture as IdpFixture;
}

/**
 * Reads and checks a fixture file.
 * @throws Error when the file cannot be read, is not JSON, or is not a fixture.
 */
export function readFixture(path: string): IdpFixture {
  return parseFixture(JSON.parse(readFileSync(path, 'utf8')), path);
}
