import { Counter, type Registry } from 'prom-client';

/**
 * A Prometheus counter that mirrors cumulative counts a component already keeps (e.g. `InboxConsumer.stats()`):
 * at each scrape it adds what grew since the previous one. A count that went down means its source restarted;
 * the new count is then added as growth, so the counter never goes backwards.
 */
export class SnapshotCounter<L extends string> {
  private readonly last = new Map<string, number>();

  constructor(
    registry: Registry,
    config: { name: string; help: string; labelNames: readonly L[] },
    read: () => Iterable<{ labels: Record<L, string>; value: number }>,
  ) {
    const last = this.last;
    new Counter<L>({
      name: config.name,
      help: config.help,
      labelNames: config.labelNames,
      registers: [registry],
      collect() {
        for (const { labels, value } of read()) {
          const key = JSON.stringify(labels);
          const previous = last.get(key) ?? 0;
          const grown = value >= previous ? value - previous : value;
          last.set(key, value);
          // inc(0) still creates the series, so a counter shows up at 0 before its first event.
          this.inc(labels as Partial<Record<L, string | number>>, grown);
        }
      },
    });
  }
}
