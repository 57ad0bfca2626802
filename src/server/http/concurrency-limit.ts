/**
 * How many requests of one kind each user may have being answered at once. A slot is held until
 * the response is done (written out, or its connection gone), so a client that asks many pages
 * and reads none cannot make the server hold many answers for it.
 */
export class PerUserConcurrency {
  private readonly active = new Map<number, number>();

  constructor(readonly limit: number) {}

  /** A slot for the user, with the function that gives it back (once); undefined when all are taken. */
  acquire(userId: number): (() => void) | undefined {
    const count = this.active.get(userId) ?? 0;
    if (count >= this.limit) return undefined;
    this.active.set(userId, count + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.active.get(userId) ?? 1) - 1;
      if (left <= 0) this.active.delete(userId);
      else this.active.set(userId, left);
    };
  }
}
