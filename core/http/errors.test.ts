import { describe, expect, it } from 'vitest';
import { PluginError } from '../errors.ts';
import { errorResponse } from './errors.ts';

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
