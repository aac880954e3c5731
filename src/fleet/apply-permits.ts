/**
 * How a site puts the manager's permits document into force: each permit for this site, still running, whose
 * server is in the named zone of this site's own policy, goes into the scoped permit set with the time it has
 * left (the kernel's element timeout ends it even if the manager is never heard from again); a permit that
 * has run out, names another site's zone or is malformed is refused here and reported. Permits of the
 * previous version, or granted by a version that failed half-way since, that are gone from this one were revoked:
 * they are withdrawn now. A permit the host fails to grant does not stop the others nor the withdrawals: the
 * document then fails as `PartlyApplied`, naming what it holds beyond the version applied.
 */
import type { EnforcementBackend, PermitFlow } from '../enforce/backend.js';
import { hasLimits } from '../enforce/steer.js';
import { parsePolicy } from '../policy/load.js';
import { CompiledPolicy } from '../policy/evaluate.js';
import { HostSet } from '../policy/hosts.js';
import {
  fleetPermitGroup,
  permitProblem,
  type FleetPermit,
  type PermitsBody,
} from './permit-doc.js';
import type { StateDoc } from './signed-doc.js';
import { PartlyApplied, type Applied } from './state-follower.js';

export interface PermitApplyOptions {
  site: string;
  now?: () => number;
  /** Told of each permit this site refused, with the reason (the node reports it to the manager). */
  onPermitRefused?: (permit: FleetPermit, reason: string, doc: StateDoc) => void;
}

const flowsOf = (p: FleetPermit): PermitFlow[] =>
  p.ports.map((port) => ({ client: p.client, server: p.server, transport: p.transport, port }));

/** The reason `p`'s server is not in zone `p.zone` of the policy this site enforces (null: it is). */
export function zoneRefusal(backend: EnforcementBackend, p: FleetPermit): string | null {
  let text: string | undefined;
  try {
    const a = backend.status().applied;
    text = a === null || a.removedAt !== undefined ? undefined : a.text;
  } catch (e) {
    return `this site's enforcement state is unreadable (${(e as Error).message})`;
  }
  if (text === undefined) return `no policy in force here to find zone '${p.zone}' in`;
  const r = parsePolicy(text, 'applied');
  if (!r.ok) return 'the policy in force here does not load';
  const zone = r.policy.zones.find((z) => z.name === p.zone);
  if (zone === undefined) return `this site has no zone '${p.zone}'`;
  const set = new HostSet();
  for (const b of new CompiledPolicy(r.policy).zoneBlocks(zone)) set.add(b);
  return set.has(p.server) ? null : `${p.server} is not in zone '${p.zone}' here`;
}

/**
 * The reason a limited permit cannot be held here (null: it can): only the gateway judges functions, registers,
 * stations and read-only, and it judges only the server·ports this site's ruleset steers to it. Anywhere else
 * the kernel would let the whole protocol through on the permit.
 */
export function steerRefusal(backend: EnforcementBackend, p: FleetPermit): string | null {
  if (!hasLimits(p)) return null;
  let steered: ReadonlySet<string>;
  try {
    steered = new Set(backend.status().steered ?? []);
  } catch (e) {
    return `this site's enforcement state is unreadable (${(e as Error).message})`;
  }
  const open = p.ports.filter((port) => !steered.has(`${p.server}:${port}`));
  return open.length === 0
    ? null
    : `the permit is limited, but no gateway here judges ${open.map((port) => `${p.server}:${port}`).join(', ')}: it would open the whole protocol`;
}

export async function applyPermits(
  backend: EnforcementBackend,
  doc: StateDoc,
  prev: Applied | null,
  partial: unknown,
  o: PermitApplyOptions,
): Promise<void> {
  const nowS = Math.floor((o.now ?? Date.now)() / 1000);
  const by = `manager ${doc.publisher} (permits v${doc.version})`;
  const mine = (p: FleetPermit): boolean => p.sites === undefined || p.sites.includes(o.site);
  const body = doc.body as PermitsBody;
  const list = Array.isArray(body?.permits) ? body.permits : [];
  const live = new Set<string>();
  /** Permits this document could not grant (in whole or in part), with why. */
  const failed = new Map<string, string>();
  const granted: FleetPermit[] = [];
  for (const p of list) {
    if (!mine(p)) continue;
    const refusal =
      permitProblem(p) ??
      (p.until <= nowS ? `ran out ${nowS - p.until} s ago` : null) ??
      zoneRefusal(backend, p) ??
      steerRefusal(backend, p);
    if (refusal !== null) {
      // Reported once: when the version that carries it first arrives, and when it is judged again (a new policy).
      if (!prevIds(prev).has(p.id) || prev?.version === doc.version)
        o.onPermitRefused?.(p, refusal, doc);
      continue;
    }
    live.add(p.id);
    let some = false;
    for (const flow of flowsOf(p))
      try {
        await backend.permit(flow, p.until - nowS, `${by}: ${p.comment} (by ${p.grantedBy})`, {
          group: fleetPermitGroup(p),
          user: p.grantedBy,
          directory: 'fleet',
          template: `fleet-${p.id}`,
        });
        some = true;
      } catch (err) {
        failed.set(p.id, `could not grant permit ${p.id} (${(err as Error).message})`);
      }
    if (some) granted.push(p);
  }
  // Withdrawn: what the version applied or a half-failed one since granted that this one does not (review 13, M4).
  const was = permitsOf(partial);
  const revoked = new Set<string>();
  for (const p of [...permitsOf(prev?.body), ...was])
    if (
      mine(p) &&
      !live.has(p.id) &&
      !revoked.has(p.id) &&
      p.until > nowS &&
      permitProblem(p) === null
    ) {
      revoked.add(p.id);
      for (const flow of flowsOf(p))
        await backend.revokePermit(flow, `${by}: revoked`).catch(() => undefined);
    }
  if (failed.size > 0)
    // Held beyond the version applied: what this one granted, and what a half-failed one granted that this one
    // could not grant again (its kernel element and record are as they were).
    throw new PartlyApplied(
      `${[...failed.values()].join('; ')}; ${live.size - failed.size} of ${live.size} permits granted`,
      {
        permits: [
          ...granted,
          ...was.filter((p) => failed.has(p.id) && !granted.some((g) => g.id === p.id)),
        ],
      },
    );
}

const permitsOf = (body: unknown): FleetPermit[] => {
  const p = (body as Partial<PermitsBody> | null | undefined)?.permits;
  return Array.isArray(p) ? p : [];
};

function prevIds(prev: Applied | null): Set<string> {
  return new Set(permitsOf(prev?.body).map((p) => p.id));
}
