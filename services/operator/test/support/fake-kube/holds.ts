import type http from 'node:http';

/**
 * Requests that the fake API server takes in but does not answer until the test says so: a server that hangs
 * (a half-open connection, an overloaded API server) when never released, a slow one when released later. A held
 * request is answered from the store as it is at release time. Tests await `whenHeld` / `whenAbandoned` rather
 * than sleeping: the first proves the request arrived, the second that the client gave up on it by itself.
 */
export class RequestHold {
  /** Requests held so far. */
  held = 0;
  /** Held requests whose client closed the connection before an answer came (a client-side timeout). */
  abandoned = 0;
  private active = true;
  private open!: () => void;
  private readonly released = new Promise<void>((resolve) => (this.open = resolve));
  private readonly waiters = new Set<() => boolean>();

  constructor(
    private readonly matches: (record: unknown) => boolean,
    private readonly limit = Number.POSITIVE_INFINITY,
  ) {}

  /** Whether this hold takes the request (then `hold` must be awaited before answering it). */
  takes(record: unknown): boolean {
    return this.active && this.held < this.limit && this.matches(record);
  }

  /** Resolves 'released' when the test lets it go, 'abandoned' when the client closed the connection first. */
  hold(res: http.ServerResponse): Promise<'released' | 'abandoned'> {
    this.held++;
    this.changed();
    return new Promise((resolve) => {
      // A response that closes before it was written: the connection went away (the request's own 'close' fires
      // as soon as its body has been read, so it says nothing here).
      const abandoned = () => {
        if (res.writableEnded) return;
        this.abandoned++;
        this.changed();
        resolve('abandoned');
      };
      res.once('close', abandoned);
      void this.released.then(() => {
        res.off('close', abandoned);
        resolve('released');
      });
    });
  }

  /** Lets every held request go on, and holds no more. */
  release(): void {
    this.active = false;
    this.open();
  }

  whenHeld(count = 1): Promise<void> {
    return this.when(() => this.held >= count);
  }

  whenAbandoned(count = 1): Promise<void> {
    return this.when(() => this.abandoned >= count);
  }

  private when(check: () => boolean): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve) => {
      const waiter = () => {
        if (!check()) return false;
        resolve();
        return true;
      };
      this.waiters.add(waiter);
    });
  }

  private changed(): void {
    for (const waiter of [...this.waiters]) if (waiter()) this.waiters.delete(waiter);
  }
}
