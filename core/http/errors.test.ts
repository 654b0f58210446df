import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { PluginError } from '../errors.ts';
import { errorResponse, GrpcCode, pathOf, sendError } from './errors.ts';

describe('errorResponse', () => {
  it('keeps the status and message of Fastify’s own client errors', () => {
    const error = Object.assign(new Error('Unsupported Media Type: text/plain'), {
      code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE',
      statusCode: 415,
    });
    expect(errorResponse(error)).toEqual({
      code: 3,
      message: 'Unsupported Media Type: text/plain',
      status: 415,
      internal: false,
    });
  });

  it('answers a plain 500 for anything else carrying a statusCode: what a plugin threw shows nothing', () => {
    const teapot = Object.assign(new Error('db password is hunter2'), { statusCode: 418 });
    expect(errorResponse(teapot)).toEqual({
      code: 13,
      message: 'internal error',
      status: 500,
      internal: true,
    });
    const coded = Object.assign(new Error('db password is hunter2'), {
      code: 'ECONNREFUSED',
      statusCode: 400,
    });
    expect(errorResponse(coded)).toMatchObject({ status: 500, message: 'internal error' });
  });

  it('maps a coded error by the one table, its message shown where the table says so', () => {
    expect(errorResponse(new PluginError('ERR_INVALID_ARGUMENT', 'send {"spell": "…"}'))).toEqual({
      code: 3,
      message: 'send {"spell": "…"}',
      status: 400,
      internal: false,
    });
  });
});

describe('sendError', () => {
  it('writes Flipt’s body as JSON.stringify would, for any message', async () => {
    // A 401 (every sixth) carries its constant message in a header too.
    const codeFor = (n: number) => (n % 6 === 0 ? GrpcCode.UNAUTHENTICATED : GrpcCode.NOT_FOUND);
    const messageFor = (n: number) =>
      n % 2 === 0 ? 'request was not authenticated' : `no "${n}" \u2028 ✓ \\ here`;
    const app = Fastify();
    app.get('/:n', (request, reply) => {
      const n = Number((request.params as { n: string }).n);
      return sendError(reply, codeFor(n), messageFor(n));
    });
    for (let n = 0; n < 12; n++) {
      const response = await app.inject(`/${n}`);
      const code = codeFor(n);
      const message = messageFor(n);
      expect(response.body).toBe(JSON.stringify({ code, message, details: [] }));
      expect(response.statusCode).toBe(code === 16 ? 401 : 404);
      expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(response.headers['www-authenticate']).toBe(code === 16 ? message : undefined);
    }
    await app.close();
  });

  it('hands the body to Fastify’s serialization, as an embedding application may have set it (a string would not be)', async () => {
    const app = Fastify();
    app.addHook('onRequest', async (_request, reply) => {
      reply.serializer((payload) => JSON.stringify({ wrapped: payload }));
    });
    app.get('/', (_request, reply) =>
      sendError(reply, GrpcCode.UNAUTHENTICATED, 'request was not authenticated'),
    );
    const response = await app.inject('/');
    expect(response.body).toBe(
      '{"wrapped":{"code":16,"message":"request was not authenticated","details":[]}}',
    );
    await app.close();
  });
});

describe('pathOf', () => {
  it('is the path before the first "?", at most 200 characters', () => {
    for (const url of ['', '?', '/a', '/a?b?c', '/a#x?y', `/${'x'.repeat(300)}?q`, `/${'é'.repeat(250)}`]) {
      expect(pathOf(url)).toBe(url.split('?', 1)[0]?.slice(0, 200));
    }
  });
});
