export interface JsonAnswer<T> {
  /** 0 when nothing answered. */
  status: number;
  /** The parsed body; undefined when there was none or it was not JSON. */
  body: T | undefined;
  error?: unknown;
}

/** A JSON request that never throws: the demos report what they got, including nothing. */
export async function requestJson<T = unknown>(method: string, url: string, body?: unknown): Promise<JsonAnswer<T>> {
  try {
    const res = await fetch(url, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(5000),
    });
    return { status: res.status, body: (await res.json().catch(() => undefined)) as T | undefined };
  } catch (error) {
    return { status: 0, body: undefined, error };
  }
}
