import { readFileSync } from 'node:fs';

/** An OAuth app registered at the fake. */
export interface FixtureApp {
  readonly client_id: string;
  readonly client_secret: string;
  /** GitHub's "Authorization callback URL": redirect_uri must be it, or a path under it on the same host and port. */
  readonly callback_url: string;
}

/** A GitHub account: its profile, and the organisations and teams it belongs to. */
export interface FixtureUser {
  readonly login: string;
  readonly id: number;
  readonly name?: string | null;
  readonly email?: string | null;
  readonly avatar_url?: string;
  readonly orgs?: readonly string[];
  /** Organisation login → team slugs. */
  readonly teams?: Readonly<Record<string, readonly string[]>>;
}

/** What the fake knows: apps and users. Organisations and teams exist when a user names them. */
export interface Fixture {
  readonly apps: readonly FixtureApp[];
  readonly users: readonly FixtureUser[];
}

/** Reads a fixture file and says clearly what is wrong with it. */
export function readFixture(path: string): Fixture {
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<Fixture>;
  if (!Array.isArray(parsed.apps) || !Array.isArray(parsed.users)) {
    throw new Error(`${path}: a fixture needs "apps" and "users" arrays`);
  }
  parsed.users.forEach((user, index) => {
    if (typeof user.login !== 'string' || typeof user.id !== 'number') {
      throw new Error(`${path}: users[${index}] needs a string "login" and a numeric "id"`);
    }
  });
  parsed.apps.forEach((app, index) => {
    for (const field of ['client_id', 'client_secret', 'callback_url'] as const) {
      if (typeof app[field] !== 'string')
        throw new Error(`${path}: apps[${index}] needs a string "${field}"`);
    }
  });
  return parsed as Fixture;
}
