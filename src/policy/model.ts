import type { Playbook } from './playbook-model.js';
import type { DecoySet } from './decoy-model.js';

/** Policy as code: the plant's documented zones, conduits and allowed communication (IEC 62443 words). */

/** The rollout ladder of a zone: watch, alert on violations, simulate blocking, then block. */
export const ZONE_MODES = ['observe', 'monitor', 'simulate', 'enforce'] as const;
export type ZoneMode = (typeof ZONE_MODES)[number];

/** People who approve changes, by what they answer for. */
export const APPROVER_ROLES = ['security', 'engineering', 'operations'] as const;
export type ApproverRole = (typeof APPROVER_ROLES)[number];

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** A named host, so policy and reports say "HMI-2", not 10.1.2.12. */
export interface NamedAsset {
  name: string;
  ip: string;
  role?: string;
  /** Its Ethernet address (lowercase, colon-separated): layer-2 filtering knows zone members and senders by it. */
  mac?: string;
}

export interface Zone {
  name: string;
  description?: string;
  /** CIDRs or single addresses (IPv4/IPv6) that belong to the zone. */
  members: string[];
  /** IEC 62443-3-3 target security level, 1..4. */
  securityLevel?: number;
  mode: ZoneMode;
  /** Traffic between two members of the zone: allowed without rules (the default), or held to the groups. */
  internal: 'allow' | 'restrict';
  /** Roles that must approve a change touching this zone or its promotion. */
  approvals: ApproverRole[];
  /** Promotion to enforce needs a simulation over at least this many seconds of traffic with no baseline flow blocked. */
  simulationWindow: number;
  /** Pre-approved playbooks: what Weir may do on its own in this zone (absent: nothing). */
  playbooks?: Playbook[];
  /** Layer-2 rules for frames to the zone's members (absent: the defaults of ZoneLayer2). */
  layer2?: ZoneLayer2;
}

/**
 * What may reach a zone's members below IP (bridge family), by MAC: members are the zone's assets with a `mac`.
 * PROFINET DCP Set (rename, re-address, reset to factory) only from `engineering`; GOOSE/SV only from `publishers`.
 */
export interface ZoneLayer2 {
  /** MACs of the engineering stations and IO controllers that may send DCP Set/Reset to the members. */
  engineering: string[];
  /** MACs of the GOOSE/SV publishers (absent: GOOSE/SV not filtered). */
  publishers?: string[];
  /** Frames of ethertypes Weir does not know (802.3/LLC included: S7 over ISO) to the members: logged, or dropped. */
  unknownEthertypes: 'log' | 'drop';
}

/** A path between two zones that context groups may use. */
export interface Conduit {
  name: string;
  from: string;
  to: string;
  description?: string;
}

/** Addresses per space, as inclusive ranges ('holding_register' → [[0, 99]]). */
export type AddressRanges = Record<string, Array<[number, number]>>;

/**
 * Allowed communication: which clients may reach which servers, over what, doing what. Everything a group
 * does not name is refused once the zone enforces.
 */
export interface ContextGroup {
  name: string;
  description?: string;
  /** Conduit it travels (checked against the zones of its ends), or absent for traffic inside one zone. */
  conduit?: string;
  /** Hosts: addresses, CIDRs, named assets or zone names. */
  clients: string[];
  servers: string[];
  transport: 'tcp' | 'udp';
  /** Server ports. */
  ports: number[];
  /** Industrial protocol expected on the ports, when the group restricts functions or addresses. */
  protocol?: string;
  /** Allowed function codes (absent: any function the access allows). */
  functions?: number[];
  /** Allowed addresses per space (absent: any address). */
  addresses?: AddressRanges;
  /** Stations behind the server address it may reach (Modbus unit ids, DNP3 link, IEC 104 common addresses; absent: any). */
  units?: number[];
  /** read-only refuses every write (function codes that change the device). */
  access: 'read-only' | 'read-write';
  /** Only within these time windows (absent: always). */
  windows?: string[];
  /**
   * Requests the gateway cannot read (OPC UA services on a Sign or SignAndEncrypt channel): passed unjudged
   * ('allow') or refused (absent: refused).
   */
  securedChannels?: 'allow' | 'refuse';
}

/** A recurring window in local time, e.g. Saturday 02:00–04:00 Europe/Berlin. */
export interface TimeWindow {
  name: string;
  days: Weekday[];
  /** Minutes after local midnight; `to` may be ≤ `from` for windows across midnight. */
  from: number;
  to: number;
  timezone: string;
}

export interface Policy {
  site: string;
  /** Default time zone of windows that do not name one. */
  timezone: string;
  assets: NamedAsset[];
  zones: Zone[];
  conduits: Conduit[];
  groups: ContextGroup[];
  windows: TimeWindow[];
  /** Decoys per zone (absent: none). */
  decoys?: DecoySet[];
  /** What directory-vouched people may be let in to for a while (absent: no permits by directory). */
  permitTemplates?: PermitTemplate[];
}

/**
 * What a person may be let in to for a while once a directory (LDAP/AD, RADIUS) vouches for them: a
 * `permit_templates:` entry of the policy. A permit made from one is a context group for one client, one
 * server and a bounded time, checked by the kernel (the flow) and the gateway (functions, registers).
 */
export interface PermitTemplate {
  name: string;
  description?: string;
  /** Directory groups whose members may ask for it: LDAP group CN or DN, RADIUS Class / Filter-Id value. */
  directoryGroups: string[];
  /** The zone the servers belong to (every server must). */
  zone: string;
  /** Servers it opens: addresses or named assets inside the zone. */
  servers: string[];
  /** Clients a permit may be given to (absent: any address); CIDRs, addresses, named assets or zones. */
  clients?: string[];
  protocol: string;
  transport: 'tcp' | 'udp';
  ports: number[];
  /** Allowed function codes (absent: what the access admits). */
  functions?: number[];
  /** Allowed addresses per space, inclusive ranges. */
  addresses?: AddressRanges;
  /** Stations behind the server address it may reach (absent: any). */
  units?: number[];
  access: 'read-only' | 'read-write';
  /** A permit lasts at most this many seconds. */
  maxTtl: number;
  /** It may be asked for, and used, only within these named windows of the policy (absent: always). */
  windows?: string[];
}
