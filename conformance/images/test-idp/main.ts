/**
 * Runs the test IdP as a process (what its image runs):
 *   node --experimental-strip-types conformance/images/test-idp/main.ts --fixture conformance/fixtures/idp.json
 *        [--issuer http://idp:5556/dex] [--host 0.0.0.0] [--port 5556]
 * It prints one JSON line, `{"issuer": ..., "port": ...}`, once it listens, and stops on SIGTERM or SIGINT.
 */
import { parseArgs } from 'node:util';
import { readFixture } from './fixture.ts';
import { startTestIdp } from './server.ts';

const { values } = parseArgs({
  options: {
    fixture: { type: 'string', default: new URL('../../fixtures/idp.json', import.meta.url).pathname },
    issuer: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '5556' },
  },
});
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`--port must be a port number (0 to 65535), not "${values.port}"`);
  process.exit(2);
}
if (values.issuer !== undefined && !URL.canParse(values.issuer)) {
  console.error(`--issuer must be a URL, not "${values.issuer}"`);
  process.exit(2);
}

const idp = await startTestIdp({
  fixture: readFixture(values.fixture),
  ...(values.issuer !== undefined && { issuer: values.issuer }),
  host: values.host,
  port,
});
console.log(JSON.stringify({ issuer: idp.issuer, port: idp.port }));
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    void idp.close().then(() => process.exit(0));
  });
}
