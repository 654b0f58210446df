/** Run by bench/memory.ts with --expose-gc: prints `{"mb": ...}`, the heap `count` live authentications take. */
const { MemoryStore } = (await import(
  new URL('../dist/core/store/memory.js', import.meta.url).href
)) as typeof import('../core/store/memory.ts');

const count = Number(process.argv[2] ?? 100_000);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with --expose-gc');

gc();
const before = process.memoryUsage().heapUsed;
const store = new MemoryStore({ gracePeriodMs: 30 * 60_000, cleanupIntervalMs: 0 });
const expiresAt = new Date(Date.now() + 24 * 3600_000);
for (let i = 0; i < count; i++) {
  const email = `user${i}@example.com`;
  await store.createAuthentication({
    method: 'METHOD_OIDC',
    expiresAt,
    metadata: {
      'io.flipt.auth.oidc.provider': 'google',
      'io.flipt.auth.oidc.email': email,
      'io.flipt.auth.email': email,
      'io.flipt.auth.oidc.name': `User ${i}`,
      'io.flipt.auth.name': `User ${i}`,
      'io.flipt.auth.oidc.sub': `10${i}`,
      'io.flipt.auth.claims': JSON.stringify({
        aud: 'flipt',
        email,
        email_verified: true,
        iss: 'https://accounts.google.com',
        name: `User ${i}`,
        sub: `10${i}`,
      }),
    },
    extras: { provider: 'google', subject: `10${i}`, sessionId: `sid-${i}` },
  });
}
gc();
const after = process.memoryUsage().heapUsed;
process.stdout.write(`${JSON.stringify({ mb: Math.round((after - before) / 1024 / 1024) })}\n`);
await store.close();
