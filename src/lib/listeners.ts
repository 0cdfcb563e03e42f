/**
 * Listeners that can leave: add() returns the function that removes that listener again, so a
 * part that stops (a detached sink, a closed follower, a timed-out wait) stops being called. The
 * same function added twice is two listeners. A listener that throws does not stop the others:
 * its error goes to `onError`.
 */
export class Listeners<A extends unknown[] = []> {
  private readonly entries = new Set<{ readonly fn: (...args: A) => void }>();

  constructor(private readonly onError: (error: unknown) => void = () => undefined) {}

  add(fn: (...args: A) => void): () => void {
    const entry = { fn };
    this.entries.add(entry);
    return () => void this.entries.delete(entry);
  }

  /** Call every listener present now (one added or removed meanwhile waits for the next emit). */
  emit(...args: A): void {
    for (const e of [...this.entries]) {
      try {
        e.fn(...args);
      } catch (err) {
        this.onError(err);
      }
    }
  }

  /**
   * The arguments of the next emit, or undefined if none comes within `timeoutMs`. The wait leaves
   * the list either way, so waits that time out (a link that never comes up) do not pile up.
   */
  next(timeoutMs: number): Promise<A | undefined> {
    return new Promise((resolve) => {
      const leave = this.add((...args) => {
        leave();
        clearTimeout(timer);
        resolve(args);
      });
      const timer = setTimeout(() => {
        leave();
        resolve(undefined);
      }, timeoutMs);
    });
  }

  get size(): number {
    return this.entries.size;
  }
}
