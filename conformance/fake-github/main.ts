/**
 * Runs the fake GitHub as a process:
 *   node --experimental-strip-types conformance/fake-github/main.ts --fixture fixture.json [--layout enterprise]
 *        [--host 0.0.0.0] [--port 8080] [--api-port 8081]
 * It prints one JSON line with `serverUrl` and `apiUrl` once it listens, and stops on SIGTERM or SIGINT.
 */
import { parseArgs } from 'node:util';
import { type Layout, startFakeGitHub } from './fake-github.ts';
import { readFixture } from './fixture.ts';

const { values } = parseArgs({
  options: {
    fixture: { type: 'string', default: new URL('./fixture.json', import.meta.url).pathname },
    layout: { type: 'string', default: 'github.com' },
    host: { type: 'string', default: 'localhost' },
    port: { type: 'string', default: '0' },
    'api-port': { type: 'string', default: '0' },
  },
});
if (values.layout !== 'github.com' && values.layout !== 'enterprise') {
  console.error(`--layout must be github.com or enterprise, not "${values.layout}"`);
  process.exit(2);
}
for (const option of ['port', 'api-port'] as const) {
  const port = Number(values[option]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`--${option} must be a port number (0 to 65535), not "${values[option]}"`);
    process.exit(2);
  }
}

const fake = await startFakeGitHub({
  fixture: readFixture(values.fixture),
  layout: values.layout as Layout,
  host: values.host,
  port: Number(values.port),
  apiPort: Number(values['api-port']),
});
console.log(JSON.stringify({ serverUrl: fake.serverUrl, apiUrl: fake.apiUrl }));
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    void fake.close().then(() => process.exit(0));
  });
}
