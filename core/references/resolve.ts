import { quoteValue } from '../config/describe-value.ts';
import { type Path, setAt } from '../config/tree.ts';
import { ErrorCodes, errorCode, errorMessage, type SecretFailure, SecretResolutionError } from '../errors.ts';
import type { SecretSource } from '../plugins/contracts.ts';
import type { ReferenceSite } from './find.ts';
import type { SecretReference } from './parse.ts';

/** What resolution produced: the configuration with values in place, and each distinct value once. */
export interface Resolution<T> {
  readonly config: T;
  /** Every resolved value, so that the logger can scrub them from output. */
  readonly values: readonly string[];
}

/**
 * Resolves every reference in `config` through `sources` (one per enabled provider). Distinct references are
 * fetched once each, all at the same time. Either every reference resolves and a new configuration is returned,
 * or nothing is applied and a `SecretResolutionError` lists every failure, each naming the reference, the
 * provider and where it is used, never a value.
 */
export async function resolveSecretReferences<T>(
  config: T,
  sites: readonly ReferenceSite[],
  sources: ReadonlyMap<string, SecretSource>,
): Promise<Resolution<T>> {
  const byReference = new Map<string, { reference: SecretReference; paths: Path[] }>();
  for (const site of sites) {
    if (!site.parsed.ok) throw new Error(`unchecked invalid secret reference at ${site.path.join('.')}`);
    const { reference } = site.parsed;
    const entry = byReference.get(reference.raw) ?? { reference, paths: [] };
    entry.paths.push(site.path);
    byReference.set(reference.raw, entry);
  }

  const entries = [...byReference.values()];
  const settled = await Promise.allSettled(entries.map(({ reference }) => fetchOne(reference, sources)));

  const failures: SecretFailure[] = [];
  const values = new Map<string, string>();
  settled.forEach((outcome, i) => {
    const { reference, paths } = entries[i] as (typeof entries)[number];
    if (outcome.status === 'fulfilled') {
      values.set(reference.raw, outcome.value);
    } else {
      failures.push({
        reference: reference.raw,
        provider: reference.provider,
        paths,
        message: errorMessage(outcome.reason),
        code: (errorCode(outcome.reason) as SecretFailure['code'] | undefined) ?? ErrorCodes.SECRET_PROVIDER,
      });
    }
  });
  if (failures.length > 0) throw new SecretResolutionError(failures);

  const resolved = structuredClone(config);
  for (const { reference, paths } of entries) {
    for (const path of paths)
      setAt(resolved as Record<string, unknown>, path, values.get(reference.raw) as string);
  }
  return { config: resolved, values: [...values.values()] };
}

async function fetchOne(
  reference: SecretReference,
  sources: ReadonlyMap<string, SecretSource>,
): Promise<string> {
  const source = sources.get(reference.provider);
  if (source === undefined) {
    throw Object.assign(
      new Error(
        `provider ${quoteValue(reference.provider)} not found (enable it under secrets.providers.${reference.provider})`,
      ),
      { code: ErrorCodes.SECRET_PROVIDER },
    );
  }
  const value = await source.get(reference.path, reference.key);
  if (typeof value !== 'string') {
    throw Object.assign(
      new Error(`provider ${quoteValue(reference.provider)} returned a ${typeof value}, not a string`),
      {
        code: ErrorCodes.SECRET_PROVIDER,
      },
    );
  }
  return value;
}
