/** Distinct kinds one per-input count keeps; beyond it hostile input would grow one key per byte pattern. */
export const MAX_KINDS = 64;
/** The kind under which counts of kinds beyond the cap are kept. */
export const OTHER_KIND = 'other (kinds beyond the cap)';

/**
 * Count one `kind` in `into`, keeping at most `max` distinct kinds: later new kinds are counted under
 * OTHER_KIND and in `capped.anomaly_kinds`, so nothing goes silently uncounted.
 */
export function countKind(
  into: Record<string, number>,
  kind: string,
  capped: Record<string, number>,
  max = MAX_KINDS,
): void {
  const n = into[kind];
  if (n !== undefined) {
    into[kind] = n + 1;
    return;
  }
  if (kindCount(into) < max) {
    into[kind] = 1;
    return;
  }
  into[OTHER_KIND] = (into[OTHER_KIND] ?? 0) + 1;
  capped.anomaly_kinds = (capped.anomaly_kinds ?? 0) + 1;
}

/** Add every count of `from` to `into` (capped counters, anomaly totals). */
export function addCounts(
  into: Record<string, number>,
  from: Record<string, number>,
): Record<string, number> {
  for (const k in from) into[k] = (into[k] ?? 0) + from[k]!;
  return into;
}

function kindCount(r: Record<string, number>): number {
  let n = 0;
  for (const k in r) if (k !== OTHER_KIND) n++;
  return n;
}
