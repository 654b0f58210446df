/**
 * Keeps one of `process.nextTick`'s tick objects alive for the life of the process, so that V8 keeps building every
 * later one on its fast path. Imported for its effect, first, by the command line and by the package's entry.
 *
 * Why: Node builds each tick object as an object literal with computed symbol keys (`{ [async_id_symbol]: …, … }`,
 * lib/internal/process/task_queues.js). V8 defines such keys one at a time and remembers, weakly, the shape (map) the
 * object had before each of them. A full garbage collection that runs while no tick object is alive frees those shapes,
 * and the next `nextTick` then finds its remembered shapes gone and marks the slots of the keys after the first
 * megamorphic, for good: TurboFan compiles `nextTick` with a runtime call for each (4 per tick), ~330 ns more per tick
 * here, and the process serves 15–25 % fewer requests for the rest of its life (bench/README.md, "Every server process
 * keeps a tick object"). Whether a process draws this depends on when its first idle full collection falls, so one
 * process is slow and its twin is not. One live tick object keeps its shape alive, and with it every shape before it (a
 * shape holds its parent).
 *
 * Only processes that load portcullis before such a collection are kept from it: the command line does so on its
 * first line; an application that embeds portcullis does so when it imports it. A process that already drew the slow
 * state stays in it; nothing here can undo a megamorphic slot. A process that replaced `process.nextTick` before
 * portcullis loads gets no tick object from its replacement, and nothing is kept. The kept object holds what a tick
 * object holds: the async context it was made in (an AsyncLocalStorage store, when portcullis is first imported
 * inside `run()`), as any object made while the package loads does.
 */
import { executionAsyncResource } from 'node:async_hooks';

let kept: object | undefined;

// executionAsyncResource() in a tick's callback is that tick's object (pushed by processTicksAndRejections). It does
// not install async hooks or promise hooks, which would slow every promise down (V8's PromiseHook protector).
process.nextTick(() => {
  const resource = executionAsyncResource();
  // Only a tick object (its callback and arguments are its own fields), not what a replaced nextTick ran this in.
  if (Object.hasOwn(resource, 'callback') && Object.hasOwn(resource, 'args')) kept = resource;
});

/** The tick object held (from the first tick after this module loads; `undefined` before). For tests. */
export function keptTickObject(): object | undefined {
  return kept;
}
