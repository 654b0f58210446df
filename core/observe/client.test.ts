import { describe, expect, it } from 'vitest';
import { createAddressMatcher } from '../address.ts';
import { actorOf, CallClient, clientAddress } from './client.ts';

describe('clientAddress', () => {
  const trusted = createAddressMatcher(['10.0.0.0/8', '::1']);

  it('is the peer unless the peer is a trusted proxy', () => {
    expect(clientAddress('203.0.113.9', '198.51.100.1', trusted)).toBe('203.0.113.9');
    expect(clientAddress('10.0.0.2', undefined, trusted)).toBe('10.0.0.2');
  });

  it('walks X-Forwarded-For from the right past trusted hops, never further', () => {
    expect(clientAddress('10.0.0.2', '198.51.100.1', trusted)).toBe('198.51.100.1');
    expect(clientAddress('10.0.0.2', '6.6.6.6, 198.51.100.1, 10.1.1.1', trusted)).toBe('198.51.100.1');
    expect(clientAddress('::1', ['6.6.6.6', '10.1.1.1'], trusted)).toBe('6.6.6.6');
    expect(clientAddress('::ffff:10.0.0.2', ' , ', trusted)).toBe('::ffff:10.0.0.2');
    // Every hop trusted: the first one named is as far as the chain goes.
    expect(clientAddress('10.0.0.2', '10.0.0.3, 10.0.0.4', trusted)).toBe('10.0.0.3');
  });

  it('believes no header when no proxy is trusted', () => {
    expect(clientAddress('127.0.0.1', '6.6.6.6', createAddressMatcher([]))).toBe('127.0.0.1');
  });
});

describe('actorOf (Flipt’s GetActorFromAuthentication)', () => {
  it('names the method, and email, name and picture for OIDC, JWT and GitHub only', () => {
    const metadata = {
      'io.flipt.auth.email': 'a@x',
      'io.flipt.auth.github.name': 'A',
      'io.flipt.auth.github.picture': 'https://p',
    };
    expect(actorOf({ id: '1', method: 'METHOD_GITHUB', metadata }, '192.0.2.1')).toEqual({
      authentication: 'github',
      ip: '192.0.2.1',
      email: 'a@x',
      name: 'A',
      picture: 'https://p',
    });
    expect(actorOf({ id: 't', method: 'METHOD_TOKEN', metadata }, undefined)).toEqual({
      authentication: 'token',
    });
    expect(actorOf(undefined, '')).toEqual({ authentication: 'none' });
  });

  it('reads a gRPC peer without its port', () => {
    expect(new CallClient('127.0.0.1:5000').ip).toBe('127.0.0.1');
    expect(new CallClient('[::1]:5000').ip).toBe('::1');
    expect(new CallClient('unix:/tmp/socket').ip).toBeUndefined();
  });
});
