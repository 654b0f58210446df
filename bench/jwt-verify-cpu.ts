/**
 * A micro-measurement, not a test: the CPU one first-seen JWT costs, through `verifyJwt` and through the jwt method's
 * `JwtVerifier.verify`, beside fast-jwt (what `@fastify/jwt` verifies with) on the same tokens. Run it pinned to one
 * core, so that the threadpool work WebCrypto hands off is counted on the core it competes for:
 *
 * ```sh
 * taskset -c 1 node --experimental-strip-types --disable-warning=ExperimentalWarning bench/jwt-verify-cpu.ts
 * ```
 *
 * Every token is distinct and each verifier is new for each round, so nothing is answered from a cache of verified
 * tokens (the key set's imported keys are kept, as they are in a running server). 32 verifications are in flight at
 * once, as the bench's 32 connections keep them. Reported per token: the process's CPU time (user + system, every
 * thread) and the wall time, the median over the rounds, each way measured in turn in every round.
 */
import { hash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createVerifier } from 'fast-jwt';
import { TIME_CLAIM_RULES, VerifiedTokens, verifyJwt } from '../core/plugins/kit/index.ts';
import { pemKeys } from '../plugins/jwt/keys.ts';
import { JWT_ALGORITHMS, JwtVerifier } from '../plugins/jwt/verifier.ts';
import { median } from './spawn-health.ts';
import { makeTokens } from './tokens.ts';

const IN_FLIGHT = 32;
const ROUNDS = Number(process.env.ROUNDS ?? 7);
/** More than `JwtVerifier` remembers (10 000), so that most of a round's tokens find its cache full. */
const TOKENS = 25_000;
/** Tokens of each round verified before the clock starts (the JIT warms up on them). */
const WARMUP = 1_000;

/** CPU and wall time per token, in µs, verifying `tokens` with `verify`, `IN_FLIGHT` at a time. */
async function perToken(
  tokens: readonly string[],
  verify: (token: string) => unknown,
): Promise<{ cpu: number; wall: number }> {
  let next = 0;
  const worker = async () => {
    while (next < tokens.length) await verify(tokens[next++] as string);
  };
  const run = () => Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  const all = tokens;
  tokens = all.slice(0, WARMUP);
  await run();
  tokens = all.slice(WARMUP);
  next = 0;
  const cpu = process.cpuUsage();
  const wall = process.hrtime.bigint();
  await run();
  const spent = process.cpuUsage(cpu);
  return {
    cpu: (spent.user + spent.system) / tokens.length,
    wall: Number(process.hrtime.bigint() - wall) / 1000 / tokens.length,
  };
}

const work = mkdtempSync(join(tmpdir(), 'portcullis-jwt-cpu-'));
try {
  for (const alg of ['ES256', 'RS256'] as const) {
    const set = await makeTokens(work, alg, TOKENS);
    const tokens = readFileSync(set.file, 'utf8').trim().split('\n').slice(0, TOKENS);
    const pem = readFileSync(set.publicKeyFile, 'utf8');
    const ways: Record<string, () => Promise<(token: string) => unknown>> = {
      'fast-jwt (@fastify/jwt)': async () => createVerifier({ key: pem, algorithms: [alg], cache: false }),
      verifyJwt: async () => {
        const { keys } = await pemKeys(set.publicKeyFile);
        return (token) =>
          verifyJwt(token, keys, { algorithms: JWT_ALGORITHMS, timeRules: TIME_CLAIM_RULES.jwt });
      },
      'JwtVerifier.verify': async () => {
        const verifier = new JwtVerifier((await pemKeys(set.publicKeyFile)).keys, { audiences: [] });
        return (token) => verifier.verify(token);
      },
    };
    const results = new Map<string, { cpu: number[]; wall: number[] }>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, make] of Object.entries(ways)) {
        const { cpu, wall } = await perToken(tokens, await make());
        const seen = results.get(name) ?? { cpu: [], wall: [] };
        seen.cpu.push(cpu);
        seen.wall.push(wall);
        results.set(name, seen);
      }
    }
    for (const [name, { cpu, wall }] of results) {
      console.log(
        `${alg} ${name.padEnd(24)} cpu ${median(cpu).toFixed(1).padStart(6)} µs/token  wall ${median(wall).toFixed(1).padStart(6)} µs/token`,
      );
    }
    // What JwtVerifier adds around verifyJwt for a first-seen token: the token's hash, and remembering it in a
    // cache already full (each pass's keys are new to it).
    const cache = new VerifiedTokens<object>(10_000);
    const passes = 4;
    const start = process.cpuUsage();
    for (let pass = 0; pass < passes; pass++) {
      for (const [i, token] of tokens.entries()) cache.set(VerifiedTokens.key(`${pass}${token}`), {}, i);
    }
    const spent = process.cpuUsage(start);
    const hashOnly = process.cpuUsage();
    for (const token of tokens) hash('sha256', token, 'base64url');
    const hashed = process.cpuUsage(hashOnly);
    console.log(
      `${alg} VerifiedTokens key+set   cpu ${((spent.user + spent.system) / passes / tokens.length).toFixed(2)} µs/token (hash alone ${((hashed.user + hashed.system) / tokens.length).toFixed(2)}; token ${tokens[0]?.length} chars)`,
    );
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
