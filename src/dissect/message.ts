/** Protocols Weir dissects. Industrial first, then the identity protocols used for inventory. */
export type IcsProtocol =
  | 'modbus'
  | 's7comm'
  | 's7comm_plus'
  | 'dnp3'
  | 'enip'
  | 'cip'
  | 'bacnet'
  | 'iec104'
  | 'opcua'
  | 'hartip'
  | 'fins'
  | 'slmp'
  | 'mms'
  | 'goose'
  | 'profinet_io'
  | 'c37118'
  | 'sv';
export type IdentityProtocol = 'arp' | 'dhcp' | 'lldp' | 'cdp' | 'profinet_dcp' | 'dns' | 'nbns';
export type ProtocolName = IcsProtocol | IdentityProtocol;
/** Protocols Weir knows by their port only (no dissector yet): policies may name them, the service map shows them. */
export type PortOnlyProtocol = never;
export type KnownProtocol = ProtocolName | PortOnlyProtocol;

/**
 * Why a PDU is malformed: a kind from its protocol's list (the descriptor's `anomalies`, a string-literal union in
 * the protocol's file) and the particulars of this PDU in words.
 */
export interface Anomaly<K extends string = string> {
  kind: K;
  /** e.g. 'byte count 7 does not match quantity 4'. */
  detail: string;
}

/** Marks a message malformed with one of its protocol's kinds (each protocol file binds `K` to its own union). */
export type Malformed<K extends string> = (m: Message, kind: K, detail: string) => void;
export const markMalformed: Malformed<string> = (m, kind, detail) => {
  m.anomaly = { kind, detail };
};

/** Which side of an exchange a PDU is. */
export type PduRole = 'request' | 'response' | 'unsolicited' | 'broadcast' | 'unknown';

/**
 * A range of the device's address space touched by a PDU: Modbus coils/registers, S7 areas and DBs,
 * DNP3 object group/variation points, CIP class/instance/attribute, BACnet objects, IEC 104 IOAs.
 */
export interface Target {
  /** Address space, e.g. 'holding_register', 'coil', 'DB1', 'M', 'g30v1', 'class_0x04/inst_100', 'analog-input', 'ioa'. */
  space: string;
  start: number;
  count: number;
}

/**
 * The space of the last target when a request touches more than its dissector walked (more items than it keeps,
 * an item syntax or object it cannot size, an index list beyond its cap): no address limit can be proven for such
 * a request, so the gateway refuses it wherever a group limits addresses, rather than judging only its first part.
 */
export const UNWALKED = 'unwalked';
export const unwalked = (): Target => ({ space: UNWALKED, start: 0, count: 1 });

/** Identity facts a device disclosed about itself (device identification, SZL, ListIdentity, LLDP, DHCP…). */
export interface IdentityFacts {
  vendor?: string;
  product?: string;
  model?: string;
  firmware?: string;
  hardware?: string;
  serial?: string;
  hostname?: string;
  deviceType?: string;
  /** PLC operating mode when disclosed (RUN, STOP, …). */
  plcMode?: string;
  /** Addresses a frame asserts for a device (ARP sender, DHCP requested/assigned, LLDP management address). */
  ip?: string;
  mac?: string;
  /** Who the facts describe: the 'src' of the frame (default) or its 'dst'. */
  about?: 'src' | 'dst';
}

/**
 * One protocol data unit, dissected. Fields follow the Zeek ICSNPP log vocabulary where one exists
 * (function codes, unit ids, addresses); `fields` carries protocol-specific extras under Zeek names.
 */
export interface Message {
  frame: number;
  ts: number;
  protocol: ProtocolName;
  transport: 'tcp' | 'udp' | 'l2';
  srcMac: string;
  dstMac: string;
  srcIp: string;
  dstIp: string;
  srcPort: number;
  dstPort: number;
  role: PduRole;
  /** Primary function code of the PDU (Modbus FC, S7 parameter function, DNP3 application FC, CIP service, …); -1 if none. */
  func: number;
  funcName: string;
  /** Secondary code: S7 userdata subfunction, Modbus MEI type / diagnostic sub-function, ENIP command, …; -1 if none. */
  subfunc: number;
  /** Unit / station / common address (Modbus unit id, DNP3 destination, IEC 104 common address); -1 if none. */
  unit: number;
  /** Transaction / sequence id for request-response pairing; -1 if none. */
  txId: number;
  /** Protocol exception or error code in a response; -1 if none. */
  exception: number;
  /** True when the PDU changes device state: writes, control, program/config transfer, run/stop. */
  write: boolean;
  /** Address ranges touched, or null. */
  targets: Target[] | null;
  /** Process values carried (registers read/written, points), or null. */
  values: number[] | null;
  identity: IdentityFacts | null;
  /** Why the PDU is malformed, or null. A malformed PDU is still reported, never dropped. */
  anomaly: Anomaly | null;
  /** Protocol-specific extras (Zeek ICSNPP field names), or null. */
  fields: Record<string, string | number | boolean> | null;
}

/** Where a PDU was found: the addressing of the packet that carried it. Built once per packet by the pipeline. */
export interface PduContext {
  frame: number;
  ts: number;
  transport: 'tcp' | 'udp' | 'l2';
  srcMac: string;
  dstMac: string;
  srcIp: string;
  dstIp: string;
  srcPort: number;
  dstPort: number;
}

/** A message with every field at its neutral value, so all messages share one shape (fast property access). */
export function newMessage(ctx: PduContext, protocol: ProtocolName): Message {
  return {
    frame: ctx.frame,
    ts: ctx.ts,
    protocol,
    transport: ctx.transport,
    srcMac: ctx.srcMac,
    dstMac: ctx.dstMac,
    srcIp: ctx.srcIp,
    dstIp: ctx.dstIp,
    srcPort: ctx.srcPort,
    dstPort: ctx.dstPort,
    role: 'unknown',
    func: -1,
    funcName: '',
    subfunc: -1,
    unit: -1,
    txId: -1,
    exception: -1,
    write: false,
    targets: null,
    values: null,
    identity: null,
    anomaly: null,
    fields: null,
  };
}
