import { describe, expect, it } from 'vitest';
import { displayName, type ListedMethod, loginButtons, methodName, methodSegment } from './login-buttons.ts';

describe('displayName: a provider as Flipt’s UI writes it', () => {
  it.each([
    ['google', 'Google'],
    ['github', 'GitHub'],
    ['gitlab', 'GitLab'],
    ['auth0', 'Auth0'],
    ['okta', 'Okta'],
    // Known names whatever their case in the configuration; others get a capital first letter only.
    ['Google', 'Google'],
    ['GITHUB', 'GitHub'],
    ['keycloak', 'Keycloak'],
    ['myIdP', 'MyIdP'],
    ['dex-local', 'Dex-local'],
    ['', ''],
  ])('%s → %s', (name, shown) => {
    expect(displayName(name)).toBe(shown);
  });
});

describe('methodName and methodSegment', () => {
  it.each([
    ['METHOD_TOKEN', 'Token', 'token'],
    ['METHOD_OIDC', 'OIDC', 'oidc'],
    ['METHOD_GITHUB', 'GitHub', 'github'],
    ['METHOD_KUBERNETES', 'Kubernetes', 'kubernetes'],
    ['METHOD_JWT', 'JWT', 'jwt'],
    ['METHOD_MAGIC_LINK', 'Magic_link', 'magic_link'],
  ])('%s → %s, /%s', (method, name, segment) => {
    expect(methodName(method)).toBe(name);
    expect(methodSegment(method)).toBe(segment);
  });
});

describe('loginButtons: one per way a browser can log in', () => {
  const methods: ListedMethod[] = [
    { method: 'METHOD_TOKEN', enabled: true, sessionCompatible: false, metadata: null },
    {
      method: 'METHOD_OIDC',
      enabled: true,
      sessionCompatible: true,
      metadata: {
        providers: {
          google: {
            authorize_url: '/auth/v1/method/oidc/google/authorize',
            callback_url: '/auth/v1/method/oidc/google/callback',
          },
          okta: { authorize_url: '/auth/v1/method/oidc/okta/authorize' },
          // Without an authorize URL (or not an object) there is nothing to start.
          broken: { callback_url: '/auth/v1/method/oidc/broken/callback' },
          odd: 'not an object',
        },
      },
    },
    {
      method: 'METHOD_GITHUB',
      enabled: true,
      sessionCompatible: true,
      metadata: { authorize_url: '/auth/v1/method/github/authorize' },
    },
    // A plugin with a login page of its own.
    {
      method: 'METHOD_MAGIC_LINK',
      enabled: true,
      sessionCompatible: true,
      metadata: { login_url: '/auth/v1/method/magic_link/page' },
    },
    // Not session-compatible: no button, even with a URL.
    {
      method: 'METHOD_KUBERNETES',
      enabled: true,
      sessionCompatible: false,
      metadata: { authorize_url: '/auth/v1/method/kubernetes/authorize' },
    },
    {
      method: 'METHOD_JWT',
      enabled: true,
      sessionCompatible: false,
      metadata: { login_url: '/somewhere' },
    },
    // Session-compatible without a way to start in a browser.
    { method: 'METHOD_QUIET', enabled: true, sessionCompatible: true, metadata: { other: 1 } },
    { method: 'METHOD_BARE', enabled: true, sessionCompatible: true },
  ];

  it('OIDC providers, GitHub and a plugin’s login_url, in the list’s order; nothing else', () => {
    expect(loginButtons(methods)).toEqual([
      {
        label: 'Google',
        method: 'oidc',
        provider: 'google',
        start: { authorize: '/auth/v1/method/oidc/google/authorize' },
      },
      {
        label: 'Okta',
        method: 'oidc',
        provider: 'okta',
        start: { authorize: '/auth/v1/method/oidc/okta/authorize' },
      },
      { label: 'GitHub', method: 'github', start: { authorize: '/auth/v1/method/github/authorize' } },
      { label: 'Magic_link', method: 'magic_link', start: { page: '/auth/v1/method/magic_link/page' } },
    ]);
  });

  it('a disabled method has no button', () => {
    const disabled = methods.map((method) => ({ ...method, enabled: method.method !== 'METHOD_OIDC' }));
    const labels = loginButtons(disabled).map((button) => button.label);
    expect(labels).toEqual(['GitHub', 'Magic_link']);
    expect(loginButtons(methods.map((method) => ({ ...method, enabled: false })))).toEqual([]);
  });

  it('metadata that is not an object, or URLs that are not strings, give no button', () => {
    expect(
      loginButtons([
        { method: 'METHOD_OIDC', enabled: true, sessionCompatible: true, metadata: ['providers'] },
        { method: 'METHOD_GITHUB', enabled: true, sessionCompatible: true, metadata: 'authorize_url' },
        { method: 'METHOD_A', enabled: true, sessionCompatible: true, metadata: { authorize_url: 1 } },
        { method: 'METHOD_B', enabled: true, sessionCompatible: true, metadata: { login_url: null } },
        {
          method: 'METHOD_C',
          enabled: true,
          sessionCompatible: true,
          metadata: { providers: { p: { authorize_url: ['x'] } } },
        },
      ]),
    ).toEqual([]);
    expect(loginButtons([])).toEqual([]);
  });

  it('OIDC with a provider list never falls back to a method-level URL', () => {
    expect(
      loginButtons([
        {
          method: 'METHOD_OIDC',
          enabled: true,
          sessionCompatible: true,
          metadata: { providers: {}, authorize_url: '/elsewhere' },
        },
      ]),
    ).toEqual([]);
  });
});
