/**
 * An explained risk score per asset and per zone, from four factors, each with its reason in words:
 *   consequence   — what the asset does (PLC/RTU highest) and the security level of its zone;
 *   exposure      — write-capable paths into it, worse when they start in lower-trust zones;
 *   vulnerability — the worst CVSS among the advisories that apply (exact or family matches), raised when an
 *                   advisory reports public exploits;
 *   detection     — open detections that involve it, by severity.
 * score = 100 × consequence × (0.4 × exposure + 0.4 × vulnerability + 0.2 × detection), each factor 0..1.
 * Pure: the inventory, exposure paths, vulnerability report and detection counts in.
 */
import type { Asset } from '../discover/model.js';
import type { Policy } from '../policy/model.js';
import { CompiledPolicy } from '../policy/evaluate.js';
import type { ExposurePath } from './exposure.js';
import type { VulnerabilityReport } from './vulnerabilities.js';

export interface Factor {
  value: number;
  why: string;
}

export interface AssetRisk {
  assetId: string;
  addresses: string[];
  role: string;
  zone: string | null;
  score: number;
  consequence: Factor;
  exposure: Factor;
  vulnerability: Factor;
  detection: Factor;
  /** The factors in one sentence. */
  summary: string;
}

export interface ZoneRisk {
  zone: string;
  score: number;
  assets: number;
  worst: string | null;
  why: string;
}

export interface DetectionCount {
  critical: number;
  high: number;
  medium: number;
  low: number;
}

const ROLE_CONSEQUENCE: Record<string, number> = {
  plc: 1,
  rtu: 1,
  io_device: 0.8,
  scada_server: 0.8,
  hmi: 0.7,
  engineering_workstation: 0.7,
  historian: 0.5,
  network_device: 0.5,
  bacnet_device: 0.5,
};

const round = (x: number) => Math.round(x * 100) / 100;

export function assessRisk(
  assets: readonly Asset[],
  paths: readonly ExposurePath[],
  vulns: VulnerabilityReport | null,
  detections: ReadonlyMap<string, DetectionCount>,
  policy: Policy | null,
): { assets: AssetRisk[]; zones: ZoneRisk[] } {
  const cp = policy ? new CompiledPolicy(policy) : null;
  const byTarget = new Map<string, ExposurePath[]>();
  for (const p of paths) {
    const l = byTarget.get(p.target);
    if (l) l.push(p);
    else byTarget.set(p.target, [p]);
  }
  const vulnOf = new Map((vulns?.assets ?? []).map((a) => [a.assetId, a]));
  const out: AssetRisk[] = [];
  for (const a of assets) {
    const ips = a.ips.length ? a.ips : [a.id];
    const zone = cp ? (cp.zoneOf(ips[0]!) ?? null) : null;
    // Consequence: the role, raised by the zone's security level (SL 3–4 guards what matters most).
    const base = ROLE_CONSEQUENCE[a.role] ?? 0.3;
    const sl = zone?.securityLevel;
    const c = Math.min(1, base + (sl && sl >= 3 ? 0.1 : 0));
    const consequence: Factor = {
      value: round(c),
      why: `${a.role.replace(/_/g, ' ')}${zone ? ` in zone ${zone.name}${sl ? ` (SL ${sl})` : ''}` : ', in no zone'}`,
    };
    // Exposure: direct write-capable sources count most; a source in a lower-trust zone counts double.
    const ps = ips.flatMap((ip) => byTarget.get(ip) ?? []);
    const direct = ps.filter((p) => p.hops.length === 1);
    const low = ps.filter((p) => p.sourceTrust <= 0);
    const e = Math.min(
      1,
      direct.length * 0.25 + low.length * 0.25 + (ps.length - direct.length) * 0.1,
    );
    const exposure: Factor = {
      value: round(e),
      why:
        ps.length === 0
          ? 'no observed path writes to it'
          : `${ps.length} write-capable path${ps.length === 1 ? '' : 's'} (${direct.length} direct)${low.length ? `, ${low.length} from lower-trust zones or outside every zone (${[...new Set(low.map((p) => p.source))].slice(0, 3).join(', ')})` : ''}`,
    };
    const v = vulnOf.get(a.id);
    const cvss = v?.worstCvss?.score ?? 0;
    // Public exploits named by an advisory make the vulnerability more pressing than its CVSS says.
    const exploited =
      v?.findings.filter((f) => f.exploits === 'public').map((f) => f.advisoryId) ?? [];
    const vv = Math.min(1, cvss / 10 + (exploited.length > 0 ? 0.2 : 0));
    const vulnerability: Factor = {
      value: round(vv),
      why: v
        ? `${v.findings.length} advisor${v.findings.length === 1 ? 'y' : 'ies'} apply, worst CVSS ${cvss.toFixed(1)} (${v.findings.find((f) => f.cvss?.score === cvss)?.advisoryId ?? v.findings[0]!.advisoryId})${v.fixAvailable ? '; a vendor fix exists' : '; no vendor fix'}${exploited.length ? `; public exploits reported (${exploited.slice(0, 3).join(', ')})` : v.findings.every((f) => f.exploits === 'none known') ? '; no known public exploits' : ''}`
        : 'no imported advisory applies',
    };
    const d = ips.reduce<DetectionCount>(
      (acc, ip) => {
        const x = detections.get(ip);
        if (x) for (const k of ['critical', 'high', 'medium', 'low'] as const) acc[k] += x[k];
        return acc;
      },
      { critical: 0, high: 0, medium: 0, low: 0 },
    );
    const dv = Math.min(1, d.critical * 0.5 + d.high * 0.3 + d.medium * 0.1 + d.low * 0.02);
    const total = d.critical + d.high + d.medium + d.low;
    const detection: Factor = {
      value: round(dv),
      why:
        total === 0
          ? 'no open detections'
          : `${total} open detection${total === 1 ? '' : 's'} (${(
              ['critical', 'high', 'medium', 'low'] as const
            )
              .filter((k) => d[k] > 0)
              .map((k) => `${d[k]} ${k}`)
              .join(', ')})`,
    };
    const score = Math.round(100 * c * (0.4 * e + 0.4 * vv + 0.2 * dv));
    out.push({
      assetId: a.id,
      addresses: ips,
      role: a.role,
      zone: zone?.name ?? null,
      score,
      consequence,
      exposure,
      vulnerability,
      detection,
      summary: `${score}: ${consequence.why}; ${exposure.why}; ${vulnerability.why}; ${detection.why}`,
    });
  }
  out.sort((x, y) => y.score - x.score || x.assetId.localeCompare(y.assetId));
  const zones = new Map<string, AssetRisk[]>();
  for (const r of out) {
    const z = r.zone ?? '(no zone)';
    const l = zones.get(z);
    if (l) l.push(r);
    else zones.set(z, [r]);
  }
  const zoneRisks: ZoneRisk[] = [...zones].map(([zone, rs]) => {
    const worst = rs[0]!;
    const high = rs.filter((r) => r.score >= 50).length;
    return {
      zone,
      score: worst.score,
      assets: rs.length,
      worst: worst.assetId,
      why: `worst asset ${worst.assetId} (${worst.score}); ${high} of ${rs.length} assets score 50 or more`,
    };
  });
  zoneRisks.sort((x, y) => y.score - x.score || x.zone.localeCompare(y.zone));
  return { assets: out, zones: zoneRisks };
}
