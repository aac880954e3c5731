import type { Db } from '../store/db.js';
import { latestBaseline } from '../store/baseline-store.js';
import type { EdgeProfile } from '../discover/baseline.js';

/** A learned-normal flow that blocking an address would cut. */
export interface CutFlow {
  client: string;
  server: string;
  service: string;
  protocols: string[];
  functions: string[];
  requests: number;
}

/** What a block of `ip` would cut from the latest baseline; null when the store has no baseline to tell. */
export function baselineCuts(
  db: Db,
  ip: string,
): { baselineVersion: number; flows: CutFlow[] } | null {
  const b = latestBaseline(db);
  if (b === null) return null;
  const flows = Object.values(b.edges)
    .filter((e) => e.client === ip || e.server === ip)
    .map(cutFlow)
    .sort((x, y) => y.requests - x.requests || x.client.localeCompare(y.client));
  return { baselineVersion: b.version, flows };
}

const cutFlow = (e: EdgeProfile): CutFlow => ({
  client: e.client,
  server: e.server,
  service: `${e.transport}/${e.port}`,
  protocols: e.protocols,
  functions: e.functions,
  requests: e.requests,
});

export function describeCuts(flows: CutFlow[]): string {
  return flows
    .map(
      (f) =>
        `  ${f.client} → ${f.server} ${f.protocols.join('+') || '?'} ${f.service}  functions: ${f.functions.join(', ') || 'none seen'}  (${f.requests} requests while learning)`,
    )
    .join('\n');
}

/**
 * Weir never cuts a learned-normal flow on its own: blocking an address that has baseline flows needs the
 * person to have seen them and said so. `refusal` is the explanation when they have not.
 */
export function guardBlock(
  db: Db,
  ip: string,
  confirmed: boolean,
): { baselineVersion: number | null; cuts: CutFlow[]; refusal: string | null } {
  const b = baselineCuts(db, ip);
  const cuts = b?.flows ?? [];
  const refusal =
    cuts.length > 0 && !confirmed
      ? `blocking ${ip} cuts ${cuts.length} baseline flow(s) (baseline v${b!.baselineVersion}):\n${describeCuts(cuts)}\nrun again with --confirm-cuts-baseline if that is intended`
      : null;
  return { baselineVersion: b?.baselineVersion ?? null, cuts, refusal };
}
