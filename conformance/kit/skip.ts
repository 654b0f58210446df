/**
 * A case that finds, once running, that it cannot apply (the method's instance owns no `Authorization` scheme, so
 * `authenticate` cannot be called) rejects with {@link CaseSkipped}; the adapters report it as skipped with the
 * reason, as they report a case's static `skip`.
 *
 * @packageDocumentation
 */

/** Thrown by a running case that cannot apply to the plugin; `reason` says why. */
export class CaseSkipped extends Error {
  readonly reason: string;

  constructor(reason: string) {
    super(`skipped: ${reason}`);
    this.name = 'CaseSkipped';
    this.reason = reason;
  }
}

/** The reason when `error` is a {@link CaseSkipped} (by name and property, so a second copy of the kit counts). */
export function skippedReason(error: unknown): string | undefined {
  if (
    error instanceof Error &&
    error.name === 'CaseSkipped' &&
    typeof (error as { reason?: unknown }).reason === 'string'
  ) {
    return (error as CaseSkipped).reason;
  }
  return undefined;
}

/**
 * Runs a case for an adapter: calls `skip(reason)` instead of running it when it has a static `skip`, or when it
 * rejects with {@link CaseSkipped}; any other rejection is the case's failure.
 */
export async function runCase(
  conformanceCase: { readonly skip?: string; run(): Promise<void> },
  skip: (reason: string) => void,
): Promise<void> {
  if (conformanceCase.skip !== undefined) return skip(conformanceCase.skip);
  try {
    await conformanceCase.run();
  } catch (error) {
    const reason = skippedReason(error);
    if (reason === undefined) throw error;
    skip(reason);
  }
}
