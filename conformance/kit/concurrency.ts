/** Concurrent use: every call is let finish before a case reports, so none is left running into the next case. */

import { errorMessage } from '../../core/errors.ts';

/** How many failures a report names before it counts the rest. */
const NAMED = 5;

/** Waits for every task, then throws naming those that failed (the first few) and how many did. */
export async function allAnsweredRight(tasks: ReadonlyArray<Promise<void>>): Promise<void> {
  const results = await Promise.allSettled(tasks);
  const failures = results.flatMap((result) =>
    result.status === 'rejected' ? [errorMessage(result.reason)] : [],
  );
  if (failures.length === 0) return;
  const more = failures.length > NAMED ? `; and ${failures.length - NAMED} more` : '';
  throw new Error(
    `${failures.length} of ${results.length} concurrent calls were answered wrong: ${failures.slice(0, NAMED).join('; ')}${more}`,
  );
}
