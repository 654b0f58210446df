import type { FastifyInstance } from 'fastify';
import { describe, expect, it } from 'vitest';
import { registryWith, testMethod } from '../test-support/plugins.ts';
import { serveForTest } from '../test-support/server.ts';

/**
 * `portcullis serve`'s app makes Fastify's validator and serializer compilers when a route first needs them
 * (app.ts): a third-party method's routes with schemas must get what Fastify's defaults give.
 */
describe('route schemas (Fastify’s compilers, made on first use)', () => {
  it('validate headers by their lower-cased names, bodies and query strings, and serialise responses, as Fastify’s defaults do', async () => {
    const schemaed = testMethod('schemaed', () => ({
      routes(app: FastifyInstance) {
        app.post(
          '/check',
          {
            schema: {
              // Written as people write header names: Fastify's default compiler lower-cases them.
              headers: {
                type: 'object',
                properties: { 'X-Ticket': { type: 'string', pattern: '^t-' } },
                required: ['X-Ticket'],
              },
              querystring: {
                type: 'object',
                properties: { n: { type: 'integer' } },
                additionalProperties: false,
              },
              body: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] },
              response: {
                200: { type: 'object', properties: { name: { type: 'string' }, n: { type: 'integer' } } },
              },
            },
          },
          async (request) => ({
            ...(request.body as { name: string }),
            n: (request.query as { n?: number }).n,
            secret: 'not in the response schema',
          }),
        );
      },
    }));
    const t = await serveForTest(
      { authentication: { required: false, methods: { schemaed: { enabled: true } } } },
      { registry: registryWith(schemaed) },
    );
    const post = (headers: Record<string, string>, body: unknown, query = '?n=7') =>
      t.fetch(`/auth/v1/method/schemaed/check${query}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      });
    const ok = await post({ 'x-ticket': 't-1' }, { name: 'ada' });
    expect(ok.status).toBe(200);
    // The query string coerced to an integer, the field outside the response schema left out.
    expect(await ok.json()).toEqual({ name: 'ada', n: 7 });
    expect((await post({}, { name: 'ada' })).status).toBe(400);
    expect((await post({ 'x-ticket': 'no' }, { name: 'ada' })).status).toBe(400);
    expect((await post({ 'x-ticket': 't-1' }, { other: 1 })).status).toBe(400);
    expect((await post({ 'x-ticket': 't-1' }, { name: 'ada' }, '?n=seven')).status).toBe(400);
    // Fastify's defaults remove what a schema does not allow rather than refuse it.
    expect(await (await post({ 'x-ticket': 't-1' }, { name: 'ada' }, '?m=1')).json()).toEqual({
      name: 'ada',
    });
  });
});
