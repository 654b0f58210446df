/**
 * The order of the targets in round `round` of a comparison (`load.ts`, `grpc-load.ts`): each round starts one
 * target further on, so that each takes every place in a round in turn (equally often when the rounds are a multiple
 * of the targets; 10 rounds of 3 targets give the places 4, 3 and 3 times). In a fixed order a target always follows
 * the same one on the same CPU, whose sockets closing and collector may still run into its turn: two identical
 * servers in the first and second places came out up to 7 % apart. Round `i` of every target is still the same round,
 * which is what `roundRatio` (run.ts) pairs.
 */
export function turns<T>(targets: readonly T[], round: number): T[] {
  const start = round % Math.max(1, targets.length);
  return [...targets.slice(start), ...targets.slice(0, start)];
}
