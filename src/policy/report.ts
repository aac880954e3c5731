import { LAYER2_KIND_TEXT } from './layer2.js';
import type { BlockReason } from './evaluate.js';
import type { BlockedFlow, SimulationResult } from './simulate.js';
import { scanNote, scansOf } from '../discover/counts.js';
import { SEVERITY_RANK, severityOf } from './refusal-severity.js';

const REASON: Record<BlockReason, string> = {
  no_rule: 'no context group allows this flow',
  outside_window: 'outside the time windows of its group',
  function_not_allowed: 'function not allowed',
  write_not_allowed: 'changes the device, and the group is read-only',
  address_not_allowed: 'address outside the allowed ranges',
  protocol_not_allowed: 'protocol not allowed on this port',
  unknown_function: 'function unknown to Weir and not named by the group',
  malformed_pdu: 'malformed request (no real client sends it)',
  not_a_request: 'a client sent something that is not a request',
  secured_channel:
    'OPC UA service on a Sign or SignAndEncrypt channel: its content cannot be judged, and the group does not allow such channels (secured_channels: allow)',
};

/** A blocked flow for people: one entry, or many refused connection attempts of one pair folded into one row. */
export interface Row extends BlockedFlow {
  /** Ports of a folded probe (a scan), lowest first. */
  ports?: number[];
}

/** Fold the probes of each scan into one row per pair (discover/counts defines both), so the real breakage stays readable. */
export function foldScans(blocked: BlockedFlow[]): Row[] {
  const scanOf = scansOf(blocked.filter((b) => b.probe));
  const out: Row[] = [];
  for (const b of blocked) {
    const group = scanOf.get(b);
    if (group === undefined) {
      out.push(b);
      continue;
    }
    if (group[0] !== b) continue; // the group is written once, where its first member stands
    const hours = b.hours.map((_, h) => group.reduce((n, g) => n + g.hours[h]!, 0));
    let firstTs = Infinity,
      lastTs = -Infinity,
      packets = 0;
    for (const g of group) {
      firstTs = Math.min(firstTs, g.firstTs);
      lastTs = Math.max(lastTs, g.lastTs);
      packets += g.packets;
    }
    out.push({
      ...b,
      ports: group.map((g) => g.port).sort((x, y) => x - y),
      packets,
      hours,
      firstTs,
      lastTs,
      baseline: group.some((g) => g.baseline),
      frames: group
        .slice(0, 5)
        .flatMap((g) => g.frames)
        .slice(0, 5),
    });
  }
  return out;
}

/**
 * The rows people read, in one order everywhere: what breaks learned-normal traffic first, then the most severe
 * (engineering operations, writes, new flows, scans, refused reads; at one severity a scan after the flows that
 * carried something), then the busiest. A PLC stop never hides behind a scan.
 */
export function orderedRows(blocked: BlockedFlow[]): Row[] {
  const rank = (b: Row): number =>
    Number(b.baseline) * 100 + SEVERITY_RANK[severityOf(b)] * 2 + (b.ports ? 0 : 1);
  return foldScans(blocked)
    .map((b) => ({ b, rank: rank(b) }))
    .sort((x, y) => y.rank - x.rank || y.b.requests + y.b.packets - (x.b.requests + x.b.packets))
    .map((x) => x.b);
}

/** The counts every output of a simulation states: flows (edges), of them learned normal, scans and their probes. */
export interface BreakCounts {
  flows: number;
  baselineFlows: number;
  scans: number;
  scanProbes: number;
  rows: number;
}

export function breakCounts(r: SimulationResult, rows = foldScans(r.blocked).length): BreakCounts {
  const z = Object.values(r.zones);
  const sum = (f: (x: (typeof z)[number]) => number | undefined): number =>
    z.reduce((n, x) => n + (f(x) ?? 0), 0);
  return {
    flows: sum((x) => x.blockedFlows),
    baselineFlows: sum((x) => x.baselineBlocked),
    scans: sum((x) => x.scans),
    scanProbes: sum((x) => x.scanProbes),
    rows,
  };
}

/** "202 flows …(200 of them are connection attempts of 1 scan, folded into 1 row; 3 rows …)" */
export function breakLine(c: BreakCounts, verb: string): string {
  const notes = [scanNote(c)];
  // A flow refused for several functions or reasons has a row for each: say so, or the list looks longer than the count.
  if (c.rows !== c.flows - c.scanProbes + c.scans)
    notes.push(`${c.rows} rows: one per flow, reason and function`);
  const n = notes.filter(Boolean);
  return `${c.flows} flow${c.flows === 1 ? '' : 's'} ${verb}${n.length ? ` (${n.join('; ')})` : ''}`;
}

export const service = (b: Row): string =>
  b.ports
    ? `${b.transport} ${b.ports.length} ports (${b.ports[0]}..${b.ports.at(-1)})`
    : b.transport === 'ip'
      ? 'ip'
      : `${b.transport}/${b.port}`;

/** "HMI-2 → PLC-7 modbus read_holding_registers every 1 s" */
export function describeFlow(b: Row): string {
  const what = b.func !== null ? `${b.protocol} ${b.funcName}` : service(b);
  const n = b.requests || b.packets;
  const how =
    b.period !== null
      ? `every ${fmtPeriod(b.period)}`
      : `${n} ${b.requests ? 'request' : 'packet'}${n === 1 ? '' : 's'}`;
  return `${b.clientName} → ${b.serverName} ${what} ${how}`;
}

function fmtPeriod(s: number): string {
  return s >= 60
    ? `${(s / 60).toFixed(s % 60 === 0 ? 0 : 1)} min`
    : s >= 1
      ? `${s.toFixed(s % 1 === 0 ? 0 : 1)} s`
      : `${Math.round(s * 1000)} ms`;
}

/** Local hours with refusals, as compact spans: "08–17h". */
function hoursOf(b: BlockedFlow): string {
  const spans: string[] = [];
  for (let h = 0; h < 24; h++) {
    if (b.hours[h] === 0) continue;
    let e = h;
    while (e + 1 < 24 && b.hours[e + 1]! > 0) e++;
    spans.push(
      e === h
        ? `${String(h).padStart(2, '0')}h`
        : `${String(h).padStart(2, '0')}–${String(e + 1).padStart(2, '0')}h`,
    );
    h = e;
  }
  return spans.join(', ');
}

/** Why a row is refused, with what a flow refused whole carried (a rogue writer reads differently from a scan). */
export function whyRefused(b: Row): string {
  if (b.ports) return 'connection attempts on ports no group allows: a scan';
  return `${REASON[b.reason]}${b.func === null && b.category !== null ? `, carrying ${b.category} requests` : ''}`;
}

/** A few sentences a plant manager can act on. */
export function plainSummary(r: SimulationResult): string {
  const rows = orderedRows(r.blocked);
  const c = breakCounts(r, rows.length);
  const span =
    r.lastTs > r.firstTs ? ` over ${fmtSpan(r.lastTs - r.firstTs)} of recorded traffic` : '';
  const l2 = (r.layer2 ?? []).reduce((n, x) => n + x.frames, 0);
  if (r.blocked.length === 0 && l2 === 0)
    return `Nothing would break: the policy allows every flow${span} (${r.packets.toLocaleString('en-US')} packets).`;
  if (r.blocked.length === 0)
    return `Every IP flow is allowed${span} (${r.packets.toLocaleString('en-US')} packets), but ${l2} layer-2 frame(s) would be refused (listed below).`;
  const base = c.baselineFlows ? `, ${c.baselineFlows} of them learned as normal` : '';
  const lines = [`${breakLine(c, `would break${span}`)}${base}:`];
  for (const b of rows.slice(0, 10))
    lines.push(
      `  - ${describeFlow(b)} (${whyRefused(b)}; zone ${b.zone}, ${b.mode})${b.baseline ? ' — part of the baseline' : ''}`,
    );
  if (rows.length > 10)
    lines.push(
      `  … and ${rows.length - 10} more row${rows.length - 10 === 1 ? '' : 's'} (the table lists them all)`,
    );
  return lines.join('\n');
}

function fmtSpan(s: number): string {
  return s >= 86400
    ? `${(s / 86400).toFixed(1)} days`
    : s >= 3600
      ? `${(s / 3600).toFixed(1)} h`
      : s >= 60
        ? `${(s / 60).toFixed(1)} min`
        : `${s.toFixed(1)} s`;
}

export const TABLE_HEAD = [
  'zone',
  'mode',
  'client → server',
  'what',
  'reason',
  'count',
  'when (local)',
  'baseline',
];

export function tableRows(r: SimulationResult): string[][] {
  return orderedRows(r.blocked).map((b) => [
    b.zone,
    b.mode,
    `${b.clientName} → ${b.serverName}`,
    b.func !== null ? `${b.protocol} ${b.funcName}` : service(b),
    b.ports ? 'no_rule (scan)' : b.reason,
    b.requests ? `${b.requests} req` : `${b.packets} pkt`,
    hoursOf(b),
    b.baseline ? 'yes' : '',
  ]);
}

/** Machine-readable result, with the summary the humans read. */
export function toJson(r: SimulationResult, meta: Record<string, unknown>): string {
  return JSON.stringify(
    { ...meta, summary: plainSummary(r), counts: breakCounts(r), ...r },
    null,
    1,
  );
}

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A self-contained HTML report for the change-control board (no scripts, no external assets). */
export function toHtml(
  r: SimulationResult,
  meta: { policy: string; captures: string[]; simulationId?: string; generated: string },
): string {
  const byZone = new Map<string, Row[]>();
  for (const b of orderedRows(r.blocked)) byZone.set(b.zone, [...(byZone.get(b.zone) ?? []), b]);
  const counts = breakCounts(r);
  const zoneRows = Object.entries(r.zones)
    .map(
      ([z, s]) =>
        `<tr><td>${esc(z)}</td><td>${s.mode}</td><td>${s.flows}</td><td>${s.blockedFlows}</td><td>${s.scanProbes ?? 0}</td><td class="${s.baselineBlocked ? 'bad' : 'ok'}">${s.baselineBlocked}</td></tr>`,
    )
    .join('');
  const sections = [...byZone]
    .map(
      ([z, list]) =>
        `<h2>Zone ${esc(z)}</h2><table><thead><tr>${TABLE_HEAD.slice(2)
          .map((h) => `<th>${esc(h)}</th>`)
          .join('')}<th>frames</th></tr></thead><tbody>${list
          .map(
            (b) =>
              `<tr class="${b.baseline ? 'bad' : ''}"><td>${esc(b.clientName)} → ${esc(b.serverName)}</td><td>${esc(b.func !== null ? `${b.protocol} ${b.funcName}` : service(b))}</td><td>${esc(whyRefused(b))}</td><td>${b.requests ? `${b.requests} requests` : `${b.packets} packets`}${b.period !== null ? `, every ${fmtPeriod(b.period)}` : ''}</td><td>${esc(hoursOf(b))}<br><small>${new Date(b.firstTs * 1000).toISOString()} – ${new Date(b.lastTs * 1000).toISOString()}</small></td><td>${b.baseline ? 'yes' : ''}</td><td>${b.frames.join(', ')}</td></tr>`,
          )
          .join('')}</tbody></table>`,
    )
    .join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Weir policy simulation</title><style>
body{font:14px system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3}.bad{background:#fde8e8}.ok{background:#e8f6e8}pre{background:#f7f7f7;padding:1em;white-space:pre-wrap}</style></head><body>
<h1>Policy simulation</h1><p>Policy <code>${esc(meta.policy)}</code> replayed on ${meta.captures.map((c) => `<code>${esc(c)}</code>`).join(', ')}${meta.simulationId ? `; simulation <code>${esc(meta.simulationId)}</code>` : ''}. Generated ${esc(meta.generated)}.</p>
<p>${r.packets.toLocaleString('en-US')} packets, ${r.messages.toLocaleString('en-US')} protocol messages, ${new Date(r.firstTs * 1000).toISOString()} – ${new Date(r.lastTs * 1000).toISOString()}.</p>
<h2>Summary</h2><pre>${esc(plainSummary(r))}</pre>
<h2>Zones</h2><table><thead><tr><th>zone</th><th>mode</th><th>flows</th><th>flows that would break</th><th>of them scan probes (one row per scan)</th><th>of them baseline</th></tr></thead><tbody>${zoneRows}${Object.keys(r.zones).length > 1 ? `<tr><th>all zones</th><th></th><th>${Object.values(r.zones).reduce((n, z) => n + z.flows, 0)}</th><th>${counts.flows}</th><th>${counts.scanProbes}</th><th>${counts.baselineFlows}</th></tr>` : ''}</tbody></table>
${sections || '<p>No flow would be blocked.</p>'}
<h2>Context groups never used in this traffic</h2><p>${
    Object.entries(r.groupUse)
      .filter(([, n]) => n === 0)
      .map(([g]) => `<code>${esc(g)}</code>`)
      .join(', ') || 'none'
  }</p>
</body></html>
`;
}

/** Frames below IP the layer-2 rules would refuse, one line per zone, kind, sender and destination. */
export function layer2Lines(r: SimulationResult): string[] {
  return (r.layer2 ?? []).map(
    (x) =>
      `  ${x.zone} (${x.mode}): ${LAYER2_KIND_TEXT[x.kind]}: ${x.src} -> ${x.dst}, ethertype 0x${x.etherType.toString(16).padStart(4, '0')}, ${x.frames} frame(s)`,
  );
}
