import { PROTOCOLS, PROTOCOL_INDEX } from '../dissect/registry.js';
import type { CompiledPolicy } from './evaluate.js';
import type { Zone, ZoneMode } from './model.js';

/**
 * Layer-2 judgement of frames below IP (review 12, R8): on a bridge every non-IP ethertype crosses whatever the
 * zones say. What may reach a zone's members (known by the MACs of its assets): PROFINET DCP Set/Reset only from
 * the zone's engineering stations and IO controllers, GOOSE/SV only from named publishers, ethertypes Weir does
 * not know logged (or dropped where the zone asks). One place for the ruleset and the simulator. Pure.
 */

/** A link protocol's EtherType, as its descriptor declares it (knowledge lives in dissect/protocols). */
const etherTypeOf = (name: string): number => PROTOCOLS[PROTOCOL_INDEX[name]! - 1]!.etherTypes[0]!;

export const ETHERTYPE = {
  ipv4: 0x0800,
  ipv6: 0x86dd,
  profinet: etherTypeOf('profinet_dcp'),
  goose: etherTypeOf('goose'),
  /** GSE management (IEC 61850-8-1), which Weir does not dissect. */
  gse: 0x88b9,
  sv: etherTypeOf('sv'),
};

/** IEC 61850 GOOSE, GSE management and Sampled Values: trip and measurement traffic of a substation. */
export const IEC61850_ETHERTYPES: number[] = [ETHERTYPE.goose, ETHERTYPE.gse, ETHERTYPE.sv];

/**
 * Ethertypes a plant's layer 2 carries and Weir knows (everything else is "unknown": counted, logged, dropped only
 * where a zone asks): IPv4, ARP, IPv6, 802.1X, LACP, PROFINET, EtherCAT, POWERLINK, GOOSE/GSE/SV, LLDP, SERCOS III,
 * MRP, MACsec, PTP, PRP, HSR, CC-Link IE, and the VLAN tags (judged by the tag rules).
 */
export const KNOWN_ETHERTYPES = [
  ...new Set([
    ETHERTYPE.ipv4,
    etherTypeOf('arp'),
    0x8100,
    ETHERTYPE.ipv6,
    0x8809,
    0x888e,
    ETHERTYPE.profinet,
    0x88a4,
    0x88a8,
    0x88ab,
    ETHERTYPE.goose,
    ETHERTYPE.gse,
    ETHERTYPE.sv,
    etherTypeOf('lldp'),
    0x88cd,
    0x88e3,
    0x88e5,
    0x88f7,
    0x88fb,
    0x890f,
    0x892f,
  ]),
];

/** DCP frame ids (PROFINET frame id 0xfefc-0xfeff: Hello, Get/Set, Identify request, Identify response). */
export const DCP_FRAME_IDS: [number, number] = [0xfefc, 0xfeff];
/** DCP service Set (rename, re-address, signal, reset to factory: all are Set with another option). */
export const DCP_SET = 4;
/** DCP service types of responses (success, not supported): a Set response goes back to the setter. */
export const DCP_RESPONSE_TYPES = [1, 5];

/** The layer-2 rules of one zone, with its members' MACs. */
export interface Layer2Zone {
  zone: string;
  mode: ZoneMode;
  /** MACs of the zone's assets: frames to these are the zone's. */
  members: string[];
  engineering: string[];
  /**
   * How DCP Set/Reset to the zone is judged: as the zone's mode once its `layer2.engineering` names who may set
   * and reset (an empty list included), else logged only: an IO controller's Set at a device's start-up is normal
   * and rarely in a replay, so dropping it by default could keep a replaced device off its line (review 13, H1).
   */
  dcpMode: ZoneMode;
  /** GOOSE/SV publishers (null: the zone names none, so GOOSE/SV to it is not filtered). */
  publishers: string[] | null;
  unknownEthertypes: 'log' | 'drop';
}

/** Per zone, in policy order. */
export function layer2Zones(cp: CompiledPolicy): Layer2Zone[] {
  return cp.policy.zones.map((z: Zone) => {
    const members = new Set<string>();
    for (const a of cp.policy.assets)
      if (a.mac !== undefined && cp.zoneOf(a.ip)?.name === z.name) members.add(a.mac);
    return {
      zone: z.name,
      mode: z.mode,
      members: [...members].sort(),
      engineering: [...new Set(z.layer2?.engineering ?? [])].sort(),
      dcpMode: z.layer2?.engineering !== undefined || z.mode !== 'enforce' ? z.mode : 'simulate',
      publishers: z.layer2?.publishers ? [...new Set(z.layer2.publishers)].sort() : null,
      unknownEthertypes: z.layer2?.unknownEthertypes ?? 'log',
    };
  });
}

/**
 * GOOSE/SV is multicast: a frame names no destination zone, so publishers are judged bridge-wide. Once a zone
 * names its publishers, GOOSE/SV from a MAC that no zone names as a publisher is refused (a forged GOOSE with a
 * higher stNum trips breakers). Null: no zone names publishers.
 */
export function publishersOf(zs: Layer2Zone[]): string[] | null {
  if (!zs.some((z) => z.publishers !== null)) return null;
  return [...new Set(zs.flatMap((z) => z.publishers ?? []))].sort();
}

/**
 * Zones that name no publishers. A bridge-wide GOOSE/SV drop would cut theirs (an IED of a monitor zone, one
 * replaced since), so GOOSE/SV is dropped only when every zone names its publishers (`publishers: []` for a zone
 * with none) and one of those enforces; until then it is logged only (review 13, H2).
 */
export const undeclaredPublishers = (zs: Layer2Zone[]): string[] =>
  zs.filter((z) => z.publishers === null).map((z) => z.zone);

export type Layer2Kind = 'dcp_set' | 'goose_publisher' | 'unknown_ethertype';

export const LAYER2_KIND_TEXT: Record<Layer2Kind, string> = {
  dcp_set: 'PROFINET DCP Set/Reset from a MAC the zone does not name as engineering',
  goose_publisher: 'GOOSE/SV from a MAC no zone names as a publisher',
  unknown_ethertype: 'ethertype Weir does not know (802.3/LLC included)',
};

/** A layer-2 frame's verdict: which zone's rule refuses it, and whether that zone drops it or only logs. */
export interface Layer2Verdict {
  zone: string;
  mode: ZoneMode;
  kind: Layer2Kind;
}

/** A DCP Set request (not a response): frame id 0xfefc-0xfeff, service 4. */
export function isDcpSet(etherType: number, b: Uint8Array, off: number, len: number): boolean {
  if (etherType !== ETHERTYPE.profinet || len < 4) return false;
  const frameId = (b[off]! << 8) | b[off + 1]!;
  return (
    frameId >= DCP_FRAME_IDS[0] &&
    frameId <= DCP_FRAME_IDS[1] &&
    b[off + 2] === DCP_SET &&
    !DCP_RESPONSE_TYPES.includes(b[off + 3]!)
  );
}

/**
 * What enforcing would do to one non-IP frame (the kernel's rules, in the same order): null when it passes. The
 * simulator asks for every zone, whatever its mode, so a change is seen before it is enforced.
 */
export class Layer2Judge {
  private readonly byMember = new Map<string, Layer2Zone>();
  private readonly publishers: Set<string> | null;
  private readonly publisherZone: Layer2Zone | null;
  private readonly firstZone: Layer2Zone | null;
  private readonly gooseMode: ZoneMode;
  private readonly known = new Set(KNOWN_ETHERTYPES);

  constructor(readonly zones: Layer2Zone[]) {
    for (const z of zones)
      for (const m of z.members) if (!this.byMember.has(m)) this.byMember.set(m, z);
    const pubs = publishersOf(zones);
    this.publishers = pubs === null ? null : new Set(pubs);
    // The zone a refused GOOSE is reported under: the most enforcing of those naming publishers.
    const rank: Record<ZoneMode, number> = { observe: 0, monitor: 1, simulate: 2, enforce: 3 };
    this.publisherZone =
      zones.filter((z) => z.publishers !== null).sort((a, b) => rank[b.mode] - rank[a.mode])[0] ??
      null;
    const m = this.publisherZone?.mode ?? 'observe';
    this.gooseMode = m === 'enforce' && undeclaredPublishers(zones).length > 0 ? 'simulate' : m;
    // The zone a group-address Set is reported under: the most enforcing by its DCP mode.
    this.firstZone =
      zones
        .filter((z) => z.members.length > 0)
        .sort((a, b) => rank[b.dcpMode] - rank[a.dcpMode])[0] ?? null;
  }

  /** `etherType` after VLAN tags; the payload starts at `off`. LLC frames carry the link decoder's codes. */
  judge(
    etherType: number,
    src: string,
    dst: string,
    b: Uint8Array,
    off: number,
    len: number,
  ): Layer2Verdict | null {
    if (etherType === ETHERTYPE.ipv4 || etherType === ETHERTYPE.ipv6) return null;
    const z = this.byMember.get(dst);
    const set = isDcpSet(etherType, b, off, len);
    if (z !== undefined && set && !z.engineering.includes(src))
      return { zone: z.zone, mode: z.dcpMode, kind: 'dcp_set' };
    // A Set to a group address (DCP Set is unicast): refused whoever sends it, reported under the most enforcing zone.
    if (set && this.firstZone !== null && (parseInt(dst.slice(0, 2), 16) & 1) === 1)
      return { zone: this.firstZone.zone, mode: this.firstZone.dcpMode, kind: 'dcp_set' };
    if (
      this.publishers !== null &&
      IEC61850_ETHERTYPES.includes(etherType) &&
      !this.publishers.has(src)
    )
      return {
        zone: this.publisherZone!.zone,
        mode: this.gooseMode,
        kind: 'goose_publisher',
      };
    if (z !== undefined && z.unknownEthertypes === 'drop' && !this.known.has(etherType))
      return { zone: z.zone, mode: z.mode, kind: 'unknown_ethertype' };
    return null;
  }
}
