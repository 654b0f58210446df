/**
 * The upstream of the gateway cases: answers every request with a JSON echo of what it received (method, URL,
 * headers, body length), like traefik/whoami, on port 8080 (`PORT`), and logs `<method> <url>` for each.
 */
import { createServer } from 'node:http';

const server = createServer((request, response) => {
  let length = 0;
  request.on('data', (chunk: Buffer) => {
    length += chunk.length;
  });
  request.on('end', () => {
    // One line per request, so that a test can tell what reached the upstream.
    console.log(`${request.method} ${request.url}`);
    response.setHeader('content-type', 'application/json');
    response.end(
      JSON.stringify({
        method: request.method,
        url: request.url,
        headers: request.headers,
        bodyLength: length,
      }),
    );
  });
});
server.listen(Number(process.env.PORT ?? 8080), '0.0.0.0', () => console.log('upstream listening'));
for (const signal of ['SIGTERM', 'SIGINT'] as const)
  process.once(signal, () => server.close(() => process.exit(0)));
