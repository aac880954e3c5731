/**
 * The plant's vulnerabilities: each asset with the advisories that apply to it, and each advisory with the
 * assets it hits. Where a vendor fix exists, the next maintenance window of the policy in which it could be
 * applied (a window whose name says maintenance, patching, outage, shutdown or turnaround). Pure: assets,
 * an advisory index and the policy in, report out.
 */
import type { Asset } from '../discover/model.js';
import type { Policy, TimeWindow } from '../policy/model.js';
import { CompiledPolicy } from '../policy/evaluate.js';
import { dayMask, hhmm, inWindow, LocalClock } from '../policy/windows.js';
import {
  CONFIDENCE_RANK,
  type AdvisoryIndex,
  type AdvisoryMatch,
  type Confidence,
} from './advisories/match.js';
import type { Cvss } from './advisories/csaf.js';

export interface PatchWindow {
  name: string;
  /** "sat 02:00–04:00 Europe/Berlin" */
  when: string;
  /** Next start, ISO time (UTC); null when the window never opens within two weeks. */
  nextStart: string | null;
}

export interface AssetFinding extends AdvisoryMatch {
  /** Where the fix could be applied: the next maintenance window, or why none. */
  window: PatchWindow | null;
  windowNote: string;
}

export interface AssetVulnerabilities {
  assetId: string;
  addresses: string[];
  role: string;
  zone: string | null;
  vendor: string | null;
  model: string | null;
  firmware: string | null;
  findings: AssetFinding[];
  worstCvss: Cvss | null;
  fixAvailable: boolean;
}

export interface AdvisoryImpact {
  advisoryId: string;
  title: string;
  cves: string[];
  cvss: Cvss | null;
  fixAvailable: boolean;
  assets: Array<{ assetId: string; confidence: Confidence; product: string; zone: string | null }>;
}

export interface VulnerabilityReport {
  generatedAt: string;
  advisories: number;
  minConfidence: Confidence;
  maintenanceWindows: PatchWindow[];
  assets: AssetVulnerabilities[];
  byAdvisory: AdvisoryImpact[];
}

const MAINTENANCE = /maint|patch|outage|shutdown|turnaround|service|downtime|update/i;

/** The windows of a policy that are meant for maintenance, each with its next start after `now`. */
export function maintenanceWindows(policy: Policy | null, now: number): PatchWindow[] {
  if (!policy) return [];
  return policy.windows
    .filter((w) => MAINTENANCE.test(w.name))
    .map((w) => ({ name: w.name, when: describeWindow(w), nextStart: nextStart(w, now) }))
    .sort((a, b) => (a.nextStart ?? '~').localeCompare(b.nextStart ?? '~'));
}

function describeWindow(w: TimeWindow): string {
  return `${w.days.join(',')} ${hhmm(w.from)}–${hhmm(w.to)} ${w.timezone}`;
}

/** The first minute at or after `now` (epoch seconds) that lies in the window, within 14 days. */
export function nextStart(w: TimeWindow, now: number): string | null {
  const clock = new LocalClock(w.timezone);
  const mask = dayMask(w);
  const start = Math.ceil(now / 60) * 60;
  let prev = false;
  for (let t = start; t < start + 14 * 86400; t += 60) {
    const [day, minute] = clock.at(t);
    const inside = inWindow(w, mask, day, minute);
    // A window already open now counts from now; otherwise from the minute it opens.
    if (inside && (!prev || t === start)) return new Date(t * 1000).toISOString();
    prev = inside;
  }
  return null;
}

export interface AssessOptions {
  minConfidence?: Confidence;
  policy?: Policy | null;
  now?: number;
}

/** Match every asset with a disclosed identity against the index. */
export function assessVulnerabilities(
  assets: Iterable<Asset>,
  index: AdvisoryIndex,
  o: AssessOptions = {},
): VulnerabilityReport {
  const min = o.minConfidence ?? 'family';
  const now = o.now ?? Date.now() / 1000;
  const windows = maintenanceWindows(o.policy ?? null, now);
  const zones = o.policy ? new CompiledPolicy(o.policy) : null;
  const out: AssetVulnerabilities[] = [];
  for (const a of assets) {
    const i = a.identity;
    if (!i.vendor && !i.model && !i.product && !i.hardware) continue;
    const ms = index.match(i).filter((m) => CONFIDENCE_RANK[m.confidence] >= CONFIDENCE_RANK[min]);
    if (ms.length === 0) continue;
    const first = windows.find((w) => w.nextStart !== null) ?? null;
    const findings: AssetFinding[] = ms.map((m) => ({
      ...m,
      window: m.fixAvailable ? first : null,
      windowNote: !m.fixAvailable
        ? 'no vendor fix: apply the mitigations'
        : first
          ? `next maintenance window: ${first.name} (${first.when})`
          : windows.length > 0
            ? 'the maintenance windows do not open in the next two weeks'
            : 'the policy names no maintenance window',
    }));
    let worst: Cvss | null = null;
    for (const m of ms) if (m.cvss && (!worst || m.cvss.score > worst.score)) worst = m.cvss;
    out.push({
      assetId: a.id,
      addresses: a.ips.length > 0 ? a.ips : a.mac ? [a.mac] : [],
      role: a.role,
      zone: zones && a.ips[0] ? (zones.zoneOf(a.ips[0])?.name ?? null) : null,
      vendor: i.vendor ?? null,
      model: i.model ?? i.product ?? i.hardware ?? null,
      firmware: i.firmware ?? null,
      findings,
      worstCvss: worst,
      fixAvailable: findings.some((f) => f.fixAvailable),
    });
  }
  out.sort(
    (a, b) =>
      (b.worstCvss?.score ?? 0) - (a.worstCvss?.score ?? 0) ||
      b.findings.length - a.findings.length ||
      a.assetId.localeCompare(b.assetId),
  );
  return {
    generatedAt: new Date(now * 1000).toISOString(),
    advisories: index.advisories,
    minConfidence: min,
    maintenanceWindows: windows,
    assets: out,
    byAdvisory: byAdvisory(out),
  };
}

function byAdvisory(assets: AssetVulnerabilities[]): AdvisoryImpact[] {
  const m = new Map<string, AdvisoryImpact>();
  for (const a of assets)
    for (const f of a.findings) {
      let e = m.get(f.advisoryId);
      if (!e) {
        e = {
          advisoryId: f.advisoryId,
          title: f.title,
          cves: [],
          cvss: null,
          fixAvailable: false,
          assets: [],
        };
        m.set(f.advisoryId, e);
      }
      e.cves = [...new Set([...e.cves, ...f.cves])].sort();
      if (f.cvss && (!e.cvss || f.cvss.score > e.cvss.score)) e.cvss = f.cvss;
      e.fixAvailable ||= f.fixAvailable;
      e.assets.push({
        assetId: a.assetId,
        confidence: f.confidence,
        product: f.product,
        zone: a.zone,
      });
    }
  return [...m.values()].sort(
    (a, b) =>
      (b.cvss?.score ?? 0) - (a.cvss?.score ?? 0) ||
      b.assets.length - a.assets.length ||
      a.advisoryId.localeCompare(b.advisoryId),
  );
}
