import type http from 'node:http';
import type { JsonObject } from './json';
import { apiVersionOf, type ResourceType } from './resources';
import { StatusError, type ObjectStore, type WatchFilter } from './store';

/**
 * The open watch streams of the fake API server and what the real server does to them: events as JSON lines,
 * 410 Gone for a resourceVersion compaction removed (an ERROR event in a 200 stream, or a plain 410), BOOKMARKs
 * for clients that ask (allowWatchBookmarks=true), the end of a watch after its timeoutSeconds, and the test's
 * controls: end them all (cleanly or by a reset) or mute them (a half-open connection).
 */
export class WatchStreams {
  /** How an expired resourceVersion is reported: an ERROR event in a 200 stream (as the real server does) or a plain 410. */
  expiry: 'event' | 'status' = 'event';
  private readonly open = new Set<http.ServerResponse>();
  private readonly muted = new Set<http.ServerResponse>();
  private readonly bookmarking = new Map<http.ServerResponse, () => void>();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(private readonly store: ObjectStore) {}

  get size(): number {
    return this.open.size;
  }

  /** Serves one watch request; returns the status it was answered with (a refused one throws a StatusError). */
  serve(resource: ResourceType, filter: WatchFilter, query: Record<string, string>, req: http.IncomingMessage, res: http.ServerResponse): number {
    const pending: string[] = [];
    let started = false;
    // An ended watch (closed by the server) is unsubscribed only when its 'close' comes, a moment later.
    const silent = () => this.muted.has(res) || res.writableEnded;
    const sink = (type: string, object: JsonObject) => {
      const line = JSON.stringify({ type, object }) + '\n';
      if (silent()) return;
      if (started) res.write(line);
      else pending.push(line);
    };
    let unsubscribe: () => void;
    try {
      unsubscribe = this.store.watch(filter, query.resourceVersion, sink);
    } catch (err) {
      if (err instanceof StatusError && err.code === 410 && this.expiry === 'event') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ type: 'ERROR', object: err.toStatus() }) + '\n');
        return 200;
      }
      throw err;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    started = true;
    for (const line of pending) res.write(line);
    this.open.add(res);
    if (query.allowWatchBookmarks === 'true') {
      this.bookmarking.set(res, () => {
        if (silent()) return;
        const object = { kind: resource.kind, apiVersion: apiVersionOf(resource), metadata: { resourceVersion: this.store.resourceVersion() } };
        res.write(JSON.stringify({ type: 'BOOKMARK', object }) + '\n');
      });
    }
    const timeout = Number(query.timeoutSeconds);
    const timer = timeout > 0 ? setTimeout(() => res.end(), timeout * 1000) : undefined;
    if (timer) this.timers.add(timer);
    const end = () => {
      unsubscribe();
      if (timer) {
        clearTimeout(timer);
        this.timers.delete(timer);
      }
      this.open.delete(res);
      this.muted.delete(res);
      this.bookmarking.delete(res);
    };
    req.on('close', end);
    res.on('close', end);
    return 200;
  }

  /** Ends every open watch: abruptly (connection reset) or cleanly (a server timeout or restart). */
  drop(how: 'reset' | 'close'): number {
    const count = this.open.size;
    for (const res of this.open) (how === 'reset' ? res.destroy() : res.end());
    this.open.clear();
    this.bookmarking.clear();
    return count;
  }

  mute(): number {
    for (const res of this.open) this.muted.add(res);
    return this.open.size;
  }

  bookmark(): number {
    for (const send of this.bookmarking.values()) send();
    return this.bookmarking.size;
  }

  closeAll(): void {
    for (const timer of this.timers) clearTimeout(timer);
    for (const res of this.open) res.destroy();
  }
}
