import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { serveForTest } from '../test-support/server.ts';

const tokenConfig = (authentication: Record<string, unknown>) => ({
  authentication: {
    ...authentication,
    methods: { token: { enabled: true, storage: { tokens: { app: { credential: 'app-secret' } } } } },
  },
});

describe('portcullis serve with malformed credentials', () => {
  it('answers malformed Authorization headers with 401, never 500, and keeps serving', async () => {
    const t = await serveForTest(tokenConfig({ required: true }));
    const get = t.fetch;
    const address = t.server.address;
    const headers = [
      'Bearer',
      'Bearer ',
      'Bearer  app-secret',
      `Bearer ${'a'.repeat(16 * 1024)}`,
      `Bearer ${'é'.repeat(100)}`,
      'Negotiate YII=',
      'JWT eyJhbGciOiJub25lIn0.e30.',
      '   ',
    ];
    for (const authorization of headers) {
      const response = await get('/auth/v1/tokens', { headers: { authorization } });
      expect(response.status, authorization.slice(0, 40)).toBe(401);
      expect(await response.json()).toEqual({
        code: 16,
        message: 'request was not authenticated',
        details: [],
      });
    }

    // Bytes that are not UTF-8, sent raw (fetch would refuse them).
    const { port } = new URL(address);
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () => {
        socket.write(
          Buffer.concat([
            Buffer.from(
              'GET /auth/v1/tokens HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer ',
            ),
            Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0x80]),
            Buffer.from('\r\n\r\n'),
          ]),
        );
      });
      let answer = '';
      socket.on('data', (chunk) => {
        answer += chunk.toString('latin1');
      });
      socket.on('end', () => resolve(answer));
      socket.on('error', reject);
    });
    expect(raw).toMatch(/^HTTP\/1\.1 401 /);

    const healthy = await get('/auth/v1/tokens', { headers: { authorization: 'Bearer app-secret' } });
    expect(healthy.status).toBe(200);
  });
});
