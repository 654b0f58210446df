import { goJson } from '../../core/plugins/kit/index.ts';
import type { GithubConfig } from './config.ts';
import type { GithubTeam, GithubUser } from './github-client.ts';

/** What GitHub says the user belongs to (read only with the `read:org` scope). */
export interface Membership {
  readonly organizations: readonly string[];
  readonly teams: readonly GithubTeam[];
}

/**
 * Whether the rules let the user in. A refusal's `message` names the rule (it goes to the user, who must not learn
 * which organisations and teams are allowed); `detail` lists them, for the log.
 */
export type AccessDecision =
  | { readonly allowed: true }
  | {
      readonly allowed: false;
      readonly message: string;
      readonly detail: string;
      /** The refusal's reason id, for `login:refused` events and the login metrics. */
      readonly reason: 'organization_not_allowed' | 'team_not_allowed';
    };

/** GitHub logins and slugs are case-insensitive (Flipt compares them as written; `My-Org` then admits no one). */
const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
const includes = (list: readonly string[], value: string) => list.some((item) => same(item, value));

function teamsIn(config: GithubConfig, org: string): readonly string[] {
  const key = Object.keys(config.allowed_teams).find((name) => same(name, org));
  return key === undefined ? [] : (config.allowed_teams[key] ?? []);
}

/**
 * Flipt's organisation and team rules, with messages that say which rule refused the user. With
 * `allowed_organizations`, the user must belong to one of them; with `allowed_teams` too, to one of the listed
 * teams of such an organisation (an allowed organisation without teams listed then admits no one, as in Flipt).
 */
export function decideAccess(
  config: GithubConfig,
  login: string,
  membership: Membership | undefined,
): AccessDecision {
  if (config.allowed_organizations.length === 0) return { allowed: true };
  const memberOf = config.allowed_organizations.filter((org) =>
    includes(membership?.organizations ?? [], org),
  );
  if (memberOf.length === 0) {
    return {
      allowed: false,
      message: `account does not satisfy the organization requirements: "${login}" belongs to none of allowed_organizations`,
      detail: `allowed_organizations: ${config.allowed_organizations.join(', ')}`,
      reason: 'organization_not_allowed',
    };
  }
  if (Object.keys(config.allowed_teams).length === 0) return { allowed: true };
  const inAllowedTeam = memberOf.some((org) =>
    (membership?.teams ?? []).some(
      (team) => same(team.org, org) && includes(teamsIn(config, org), team.slug),
    ),
  );
  if (inAllowedTeam) return { allowed: true };
  const wanted = memberOf
    .map((org) => `${org}: ${teamsIn(config, org).join(', ') || 'none listed'}`)
    .join('; ');
  return {
    allowed: false,
    message: `account does not satisfy the team requirements: "${login}" is in none of the allowed_teams of its allowed organizations`,
    detail: `allowed_teams: ${wanted}`,
    reason: 'team_not_allowed',
  };
}

/** Flipt's metadata keys for GitHub sessions (reference §4.9), and ours. */
export const GITHUB_METADATA = {
  email: 'io.flipt.auth.github.email',
  name: 'io.flipt.auth.github.name',
  picture: 'io.flipt.auth.github.picture',
  sub: 'io.flipt.auth.github.sub',
  preferredUsername: 'io.flipt.auth.github.preferred_username',
  organizations: 'io.flipt.auth.github.organizations',
  teams: 'io.flipt.auth.github.teams',
  /** portcullis: every team of the user in the organisations listed, whatever `allowed_teams` says (Flipt #5067). */
  allTeams: 'io.flipt.auth.github.all_teams',
  consolidatedEmail: 'io.flipt.auth.email',
  consolidatedName: 'io.flipt.auth.name',
  consolidatedPicture: 'io.flipt.auth.picture',
} as const;

function groupByOrg(
  teams: readonly GithubTeam[],
  keep: (team: GithubTeam) => boolean,
): Record<string, string[]> {
  const grouped: Record<string, string[]> = {};
  for (const team of teams) {
    if (!keep(team)) continue;
    if (!Object.hasOwn(grouped, team.org)) grouped[team.org] = [];
    grouped[team.org]?.push(team.slug);
  }
  return grouped;
}

/**
 * A session's metadata as Flipt writes it: the profile (name falling back to the login, email to GitHub's
 * no-reply address), and with `read:org`, the organisations (only the allowed ones, when some are) and teams
 * (only the allowed ones; else those of allowed organisations; else all). `all_teams` keeps every team of the
 * listed organisations, for authorization policies that go by team. Empty values are left out.
 */
export function sessionMetadata(
  config: GithubConfig,
  user: GithubUser,
  membership: Membership | undefined,
): Record<string, string> {
  const name = user.name || user.login;
  const email = user.email || `${user.id}+${user.login}@users.noreply.github.com`;
  const metadata: Record<string, string> = {};
  const set = (keys: readonly string[], value: string | null | undefined) => {
    if (value === undefined || value === null || value === '') return;
    for (const key of keys) metadata[key] = value;
  };
  set([GITHUB_METADATA.email, GITHUB_METADATA.consolidatedEmail], email);
  set([GITHUB_METADATA.name, GITHUB_METADATA.consolidatedName], name);
  set([GITHUB_METADATA.picture, GITHUB_METADATA.consolidatedPicture], user.avatar_url);
  set([GITHUB_METADATA.sub], String(user.id));
  set([GITHUB_METADATA.preferredUsername], user.login);
  if (membership === undefined) return metadata;

  const allowedOrgs = config.allowed_organizations;
  const orgAllowed = (org: string) => allowedOrgs.length === 0 || includes(allowedOrgs, org);
  const organizations = membership.organizations.filter(orgAllowed);
  const filterTeams = Object.keys(config.allowed_teams).length > 0;
  const teams = groupByOrg(membership.teams, (team) =>
    filterTeams ? includes(teamsIn(config, team.org), team.slug) : orgAllowed(team.org),
  );
  metadata[GITHUB_METADATA.organizations] = goJson(organizations);
  metadata[GITHUB_METADATA.teams] = goJson(teams);
  metadata[GITHUB_METADATA.allTeams] = goJson(groupByOrg(membership.teams, (team) => orgAllowed(team.org)));
  return metadata;
}
