import { createRuntime } from '../../../index.ts';

/**
 * Why a built-in secret store cannot run its source cases yet: what a runtime that creates it with `block` is
 * refused with (`ERR_PLUGIN_FAILED`, "not yet available"). Throws when the store starts, so that its conformance
 * test is given a `seed` fixture the day it gets a runtime, rather than going on skipping.
 */
export async function refusalOf(name: string, block: Readonly<Record<string, unknown>>): Promise<string> {
  try {
    const runtime = await createRuntime({
      object: { secrets: { providers: { [name]: { enabled: true, ...block } } } },
      env: {},
      logDestination: { write: () => undefined },
    });
    await runtime.close();
  } catch (error) {
    const { code, message } = error as { code?: unknown; message?: unknown };
    if (
      code === 'ERR_PLUGIN_FAILED' &&
      typeof message === 'string' &&
      message.includes('not yet available')
    ) {
      return `${code}: ${message}`;
    }
    throw error;
  }
  throw new Error(`secret provider "${name}" starts now: give its conformance test a seed fixture`);
}
