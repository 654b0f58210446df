import { describe, expect, it } from 'vitest';
import { decideAccess, sessionMetadata } from './access.ts';
import { apiBase, type GithubConfig } from './config.ts';
import { callbackUrl } from './routes.ts';

const config = (rules: Partial<GithubConfig> = {}): GithubConfig => ({
  enabled: true,
  server_url: 'https://github.com',
  scopes: ['read:org'],
  allowed_organizations: [],
  allowed_teams: {},
  use_pkce: false,
  ...rules,
});

const membership = {
  organizations: ['Octo-Org', 'other-org'],
  teams: [
    { org: 'Octo-Org', slug: 'flipt-admins' },
    { org: 'other-org', slug: 'crew' },
  ],
};

describe('decideAccess', () => {
  it('lets everyone in without rules', () => {
    expect(decideAccess(config(), 'u', undefined)).toEqual({ allowed: true });
  });

  it('matches organisations and teams whatever their case, as GitHub does', () => {
    expect(decideAccess(config({ allowed_organizations: ['octo-org'] }), 'u', membership)).toEqual({
      allowed: true,
    });
    expect(
      decideAccess(
        config({ allowed_organizations: ['octo-org'], allowed_teams: { 'octo-org': ['Flipt-Admins'] } }),
        'u',
        membership,
      ),
    ).toEqual({ allowed: true });
  });

  it('with allowed_teams, admits no one through an allowed organisation that lists no teams (as Flipt)', () => {
    const decision = decideAccess(
      config({
        allowed_organizations: ['octo-org', 'other-org'],
        allowed_teams: { 'octo-org': ['readers'] },
      }),
      'u',
      membership,
    );
    expect(decision).toEqual({
      allowed: false,
      message:
        'account does not satisfy the team requirements: "u" is in none of the allowed_teams of its allowed organizations',
      detail: 'allowed_teams: octo-org: readers; other-org: none listed',
      reason: 'team_not_allowed',
    });
  });
});

describe('sessionMetadata', () => {
  it('filters teams by allowed_teams, else by allowed organisations, and keeps all of the latter in all_teams', () => {
    const user = { login: 'u', id: 7, name: 'U', email: 'u@x', avatar_url: '' };
    const byOrg = sessionMetadata(config({ allowed_organizations: ['other-org'] }), user, membership);
    expect(byOrg['io.flipt.auth.github.organizations']).toBe('["other-org"]');
    expect(byOrg['io.flipt.auth.github.teams']).toBe('{"other-org":["crew"]}');
    expect(byOrg['io.flipt.auth.picture']).toBeUndefined();
    const byTeam = sessionMetadata(
      config({ allowed_organizations: ['octo-org', 'other-org'], allowed_teams: { 'other-org': ['crew'] } }),
      user,
      membership,
    );
    expect(byTeam['io.flipt.auth.github.teams']).toBe('{"other-org":["crew"]}');
    expect(byTeam['io.flipt.auth.github.all_teams']).toBe(
      '{"Octo-Org":["flipt-admins"],"other-org":["crew"]}',
    );
  });
});

describe('URLs', () => {
  it('joins the callback path as Go’s url.JoinPath does', () => {
    expect(callbackUrl('https://flipt.example.com')).toBe(
      'https://flipt.example.com/auth/v1/method/github/callback',
    );
    expect(callbackUrl('https://flipt.example.com/')).toBe(
      'https://flipt.example.com/auth/v1/method/github/callback',
    );
    expect(callbackUrl('https://example.com/flipt/')).toBe(
      'https://example.com/flipt/auth/v1/method/github/callback',
    );
  });

  it('finds the API: api_url, else api.github.com for github.com, else <server_url>/api/v3 (Enterprise)', () => {
    expect(apiBase({ server_url: 'https://github.com' })).toBe('https://api.github.com');
    expect(apiBase({ server_url: 'https://ghe.example.com/' })).toBe('https://ghe.example.com/api/v3');
    expect(apiBase({ server_url: 'https://ghe.example.com', api_url: 'https://api.ghe.example.com/' })).toBe(
      'https://api.ghe.example.com',
    );
  });
});
