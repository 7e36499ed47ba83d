/**
 * A Kubernetes timestamp as an ISO string. client-node hands timestamps back as Dates from typed list/get calls
 * but as strings from watch events and raw JSON; under jest its Dates also come from another realm, so this
 * duck-types rather than testing `instanceof Date`.
 */
export function isoTime(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  const toIso = (value as { toISOString?: () => string } | null | undefined)?.toISOString;
  return typeof toIso === 'function' ? toIso.call(value) : undefined;
}
