/**
 * Where everything a long-running part starts is ended: each resource is added here right where it
 * is created, and close() ends them in reverse order (what was started last stops first), awaiting
 * each. The same list serves a normal stop and a start-up that fails half-way, so a failed start
 * (a busy port, a bad model) never leaves cameras, timers or broker clients running behind an
 * error. RxJS's Subscription.add does this for synchronous teardowns; these may be async.
 */
export type Teardown = () => void | Promise<void>;

export interface TeardownFailure {
  readonly name: string;
  readonly error: unknown;
}

export class Lifetime {
  private readonly teardowns: Array<{ readonly name: string; readonly fn: Teardown }> = [];
  private closing: Promise<readonly TeardownFailure[]> | undefined;

  /** Add a resource's teardown. Added after close() began, it runs at once (nothing outlives it). */
  add(name: string, fn: Teardown): void {
    if (this.closing) {
      void Promise.resolve()
        .then(fn)
        .catch(() => {});
      return;
    }
    this.teardowns.push({ name, fn });
  }

  get closed(): boolean {
    return this.closing !== undefined;
  }

  /**
   * Run every teardown once, newest first. A failing teardown does not stop the others; the
   * failures are returned (and the caller logs them). Calling it again returns the same promise.
   */
  close(): Promise<readonly TeardownFailure[]> {
    this.closing ??= (async () => {
      const failures: TeardownFailure[] = [];
      for (const { name, fn } of this.teardowns.splice(0).reverse()) {
        try {
          await fn();
        } catch (error) {
          failures.push({ name, error });
        }
      }
      return failures;
    })();
    return this.closing;
  }
}
