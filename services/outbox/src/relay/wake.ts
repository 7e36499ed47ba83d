/** A level-triggered wake-up: `wait()` resolves at the next `set()` (or one already pending), or after a timeout. */
export class WakeSignal {
  private pending = false;
  private waiter: (() => void) | null = null;

  set(): void {
    this.pending = true;
    this.waiter?.();
  }

  wait(timeoutMs: number): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      const self = this;
      function done() {
        clearTimeout(timer);
        self.waiter = null;
        self.pending = false;
        resolve();
      }
      this.waiter = done;
    });
  }
}
