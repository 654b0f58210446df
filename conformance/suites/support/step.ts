/**
 * Runs one step of a flow; a failure inside it is rethrown as `step "<name>": <what failed>`, so that a failed case
 * says where the flow broke (authorize, the IdP's login, the callback, ...), not only what was expected.
 */
export async function step<T>(name: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    const cause = error instanceof Error ? error : new Error(String(error));
    if (cause.message.startsWith('step "')) throw cause;
    const wrapped = new Error(`step "${name}": ${cause.message}`, { cause });
    if (cause.stack !== undefined)
      wrapped.stack = `${wrapped.message}\n${cause.stack.split('\n').slice(1).join('\n')}`;
    throw wrapped;
  }
}
