/**
 * A first-in, first-out queue whose `shift` takes constant time however long it grows.
 *
 * An array's `shift()` moves every element left once the array is large (V8 trims the front in
 * place only for small backing stores): a program that hands the Sender 150,000 messages at once
 * spent most of its CPU moving the ones still queued (docs/benchmarks.md, 2026-12-02, session 26).
 * Here the front is an index; the taken slots are dropped once they are half of the array.
 */
export class Fifo<T> {
  private items: T[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  /** The oldest item, taken out; undefined when empty. */
  shift(): T | undefined {
    if (this.head === this.items.length) return undefined;
    const item = this.items[this.head]!;
    this.items[this.head] = undefined as T; // let it be collected
    this.head++;
    if (this.head === this.items.length) this.clear();
    else if (this.head >= 1024 && this.head * 2 >= this.items.length) this.compact();
    return item;
  }

  /** Puts `items`, in their order, ahead of everything queued. */
  unshiftAll(items: readonly T[]): void {
    if (items.length === 0) return;
    this.items = [...items, ...this.items.slice(this.head)];
    this.head = 0;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }

  /** Oldest first. */
  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = this.head; i < this.items.length; i++) yield this.items[i]!;
  }

  private compact(): void {
    this.items = this.items.slice(this.head);
    this.head = 0;
  }
}
