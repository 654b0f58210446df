/**
 * A first-in first-out queue of at most `limit` items, each operation O(1): pushing past the limit drops the
 * oldest item, which the push returns so that it can be counted. A ring that grows (doubling) up to the limit.
 */
export class PendingQueue<T> {
  readonly limit: number;
  #ring: Array<T | undefined> = new Array(16);
  #head = 0;
  #size = 0;

  constructor(limit: number) {
    this.limit = Math.max(1, Math.floor(limit));
  }

  get size(): number {
    return this.#size;
  }

  /** Adds `item` last; returns the oldest item when the queue was full and it was dropped to make room. */
  push(item: T): T | undefined {
    let dropped: T | undefined;
    if (this.#size === this.limit) dropped = this.shift();
    else if (this.#size === this.#ring.length) this.#grow();
    this.#ring[(this.#head + this.#size) % this.#ring.length] = item;
    this.#size += 1;
    return dropped;
  }

  /** The oldest item, left in place. */
  peek(): T | undefined {
    return this.#size === 0 ? undefined : this.#ring[this.#head];
  }

  /** Takes the oldest item out. */
  shift(): T | undefined {
    if (this.#size === 0) return undefined;
    const item = this.#ring[this.#head];
    this.#ring[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.#ring.length;
    this.#size -= 1;
    return item;
  }

  /** Takes up to `count` of the oldest items out, oldest first. */
  take(count: number): T[] {
    const items: T[] = [];
    while (items.length < count && this.#size > 0) items.push(this.shift() as T);
    return items;
  }

  #grow(): void {
    const ring = new Array<T | undefined>(Math.min(this.limit, this.#ring.length * 2));
    for (let i = 0; i < this.#size; i += 1) ring[i] = this.#ring[(this.#head + i) % this.#ring.length];
    this.#ring = ring;
    this.#head = 0;
  }
}
