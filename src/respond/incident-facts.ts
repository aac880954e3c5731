import { SEVERITY_RANK, type Severity } from '../detect/detection.js';
import { tacticName } from '../detect/attack-map.js';
import type { Incident, IncidentAsset } from '../detect/incident.js';

/** What the inventory and the policy say about an address (both optional: an incident never waits on them). */
export interface AssetFacts {
  name: string | null;
  role: string | null;
}

export interface IncidentLookups {
  assetOf(address: string): AssetFacts | null;
  /** Zone of an address in the active policy (null: no policy, or outside every zone). */
  zoneOf(address: string): string | null;
}

/**
 * The kill chain an intrusion into a plant walks, in the order the issue names it (discovery → lateral
 * movement → execution → inhibit response function → impair process control), the other ICS tactics in
 * between. Tactics reached by one detection are listed in this order.
 */
export const TACTIC_STAGE: readonly string[] = [
  'initial-access',
  'discovery',
  'collection',
  'lateral-movement',
  'execution',
  'persistence',
  'privilege-escalation',
  'evasion',
  'command-and-control',
  'inhibit-response-function',
  'impair-process-control',
  'impact',
];

export function stageOf(tactic: string): number {
  const i = TACTIC_STAGE.indexOf(tactic);
  return i < 0 ? TACTIC_STAGE.length : i;
}

/** Controllers and safety systems: touching them makes an incident one step worse. */
const CRITICAL_ROLES = new Set(['plc', 'rtu', 'safety', 'sis', 'io_device']);

const BY_RANK: Severity[] = ['info', 'low', 'medium', 'high', 'critical'];

/** Sweeps and protocol names stand where a detection has no single target ('*:502', 'arp', 'icmp'). */
export function isHostAddress(a: string): boolean {
  return a !== '' && !a.startsWith('*') && !/^(arp|icmp|icmpv6|tcp|udp)$/.test(a);
}

/**
 * Recompute what an incident says from its timeline: tactics and techniques in the order reached, assets by
 * name, zones, severity (worst step, one worse when a controller or safety system is a target), title.
 */
export function describeIncident(inc: Incident, look: IncidentLookups): void {
  const tactics: string[] = [];
  const techniques: string[] = [];
  let worst = 0;
  for (const s of inc.timeline) {
    for (const t of [...s.tactics].sort((a, b) => stageOf(a) - stageOf(b)))
      if (!tactics.includes(t)) tactics.push(t);
    for (const t of s.techniques) if (!techniques.includes(t)) techniques.push(t);
    worst = Math.max(worst, SEVERITY_RANK[s.severity]);
  }
  const assets: IncidentAsset[] = [];
  const zones: string[] = [];
  const add = (address: string, part: IncidentAsset['part']) => {
    if (!isHostAddress(address) || assets.some((a) => a.address === address)) return;
    const facts = look.assetOf(address);
    const zone = look.zoneOf(address);
    assets.push({
      address,
      name: facts?.name ?? null,
      role: facts?.role ?? null,
      zone,
      part,
    });
    if (zone !== null && !zones.includes(zone)) zones.push(zone);
  };
  for (const a of inc.sources) add(a, 'source');
  for (const a of inc.targets) add(a, 'target');
  for (const st of inc.timeline) add(st.dst, 'target');
  // Without a policy the detections' own zones (named when they were made) still say where it happened.
  if (zones.length === 0)
    for (const s of inc.timeline) {
      if (s.zone !== null && !zones.includes(s.zone)) zones.push(s.zone);
    }
  const critical = assets.some((a) => a.part === 'target' && CRITICAL_ROLES.has(a.role ?? ''));
  const rank = critical && worst >= SEVERITY_RANK.medium ? Math.min(worst + 1, 4) : worst;
  inc.tactics = tactics;
  inc.techniques = techniques;
  inc.assets = assets;
  inc.zones = zones;
  inc.severity = BY_RANK[rank]!;
  inc.title = titleOf(inc);
}

function label(a: IncidentAsset): string {
  return a.name !== null && a.name !== a.address ? `${a.name} (${a.address})` : a.address;
}

function titleOf(inc: Incident): string {
  const src = inc.assets.filter((a) => a.part === 'source');
  const dst = inc.assets.filter((a) => a.part === 'target');
  const who =
    src.length === 0
      ? (inc.sources[0] ?? 'unknown')
      : `${label(src[0]!)}${src.length > 1 ? ` and ${src.length - 1} more` : ''}`;
  const what =
    inc.tactics.length > 0
      ? inc.tactics.map(tacticName).join(' → ')
      : (inc.timeline[0]?.type ?? 'activity');
  const on =
    dst.length === 0
      ? ''
      : ` against ${dst
          .slice(0, 3)
          .map(
            (a) => `${a.role && a.role !== 'unknown' ? `${a.role.toUpperCase()} ` : ''}${label(a)}`,
          )
          .join(', ')}${dst.length > 3 ? ` and ${dst.length - 3} more` : ''}`;
  return `${who}: ${what}${on}`;
}
