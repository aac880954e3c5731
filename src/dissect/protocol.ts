import type { KnownProtocol, Message, PduContext, ProtocolName } from './message.js';
export type { Anomaly } from './message.js';
import type { LinkDissector } from './link-dissector.js';

/**
 * What a request does to the device. A read-only context group admits only read, identity, session and
 * diagnostic requests; everything else (and anything the protocol file does not know) changes the device
 * or cannot be judged.
 */
export type FunctionCategory =
  | 'read'
  | 'identity'
  | 'session'
  | 'diagnostic'
  | 'write'
  | 'control'
  | 'program'
  | 'config'
  | 'unknown';

/**
 * A protocol carried over a TCP byte stream. The reassembler asks `pduLength` where each PDU ends,
 * then hands whole PDUs to `dissect`. Both are pure: bytes in, values out, apart from `state`.
 * `S` is the per-direction state the dissector keeps between PDUs (null when it keeps none).
 */
export interface StreamDissector<S = unknown> {
  protocol: ProtocolName;
  /**
   * Length of the PDU that starts at `off` given `avail` bytes, 0 when more bytes are needed to tell,
   * or -1 when the bytes cannot be this protocol (the stream is then resynchronised or given up).
   */
  pduLength(b: Uint8Array, off: number, avail: number): number;
  /**
   * Fresh per-direction state, made when a stream direction starts and whenever stream bytes are lost or skipped
   * (so fragments are never joined across a hole).
   */
  newState(): S;
  /**
   * Dissect one whole PDU into `out`. `toServer` is true when the PDU travels client → server. `state` (from
   * `newState`) lets the dissector join protocol-level fragments (e.g. DNP3 transport segments); without it,
   * each PDU is read on its own.
   */
  dissect(
    b: Uint8Array,
    off: number,
    len: number,
    ctx: PduContext,
    toServer: boolean,
    out: Message[],
    state?: S,
  ): void;
  /**
   * True when the whole PDU at `off` (as framed by `pduLength`) is a fragment of a larger protocol unit that
   * only means something once complete (a COTP DT without end-of-TSDU, a DNP3 link frame whose transport
   * segment is not FIN). The gateway holds such fragments and judges the unit when it is whole.
   */
  partial?(b: Uint8Array, off: number, len: number): boolean;
  /**
   * True when the PDU carries no operation at all, only connection or link upkeep (a COTP connection request,
   * a DNP3 link-layer frame without user data): it may pass the gateway though it yields no message.
   */
  linkControl?(b: Uint8Array, off: number, len: number): boolean;
  /**
   * Where the next PDU plausibly starts after bytes that are not one (`off` is the first byte after the bad
   * start), or -1 when none does before `end`. Protocols with a start marker (IEC 104 0x68, DNP3 0x0564) resume
   * there, as tshark does, instead of losing the rest of the segment.
   */
  resync?(b: Uint8Array, off: number, end: number): number;
}

/**
 * Anomaly kinds the TCP reassembler reports for any stream protocol: bytes skipped to resynchronise on the next
 * valid start, and a payload that is another protocol (TLS, HTTP, RPC, RDP…) on the protocol's port.
 */
export const STREAM_ANOMALIES = ['resync', 'foreign_protocol'] as const;

/** A protocol carried in UDP datagrams. */
export interface DatagramDissector {
  protocol: ProtocolName;
  /**
   * True when units span datagrams (DNP3 transport segments): the pipeline then keeps a `state` object per
   * address pair and passes it to every datagram between them.
   */
  stateful?: boolean;
  dissect(
    b: Uint8Array,
    off: number,
    len: number,
    ctx: PduContext,
    toServer: boolean,
    out: Message[],
    state?: Record<string, unknown>,
  ): void;
}

/** Operations that change what a controller runs or whether it runs, or that probe it (ATT&CK for ICS vocabulary). */
export type EngineeringOpKind =
  | 'program_download'
  | 'program_upload'
  | 'cpu_start'
  | 'cpu_stop'
  | 'device_restart'
  | 'config_change'
  | 'file_transfer'
  | 'device_probe'
  | 'diagnostic_command'
  /** Opening, closing or listing files and sections: engineering work, too routine to report on its own. */
  | 'file_management';

/** An engineering operation a function performs; `what` finishes the sentence "<client> … on <server>". */
export interface EngineeringOp {
  kind: EngineeringOpKind;
  what: string;
}

/** The operating modes a stop or start request leaves a controller in. */
export type RequestedMode = 'STOP' | 'RUN';

/** Where a protocol's servers listen: a transport and its ports. */
export interface PortSet {
  tcp: readonly number[];
  udp: readonly number[];
}

/**
 * Everything Weir knows about one protocol, declared once in its file under src/dissect/protocols/ and read by
 * every layer through src/dissect/registry.ts (Suricata's per-protocol registrar is the model): ports for the
 * pipeline, the policy and the service map; names and categories of its functions for policies and the
 * gateway; engineering operations for roles and detection; the kinds of malformation it reports.
 */
export interface ProtocolDescriptor<K extends string = string> {
  name: KnownProtocol;
  /** How people write it, e.g. 'Modbus/TCP'. */
  title: string;
  /** Process-control traffic (true) or a protocol that only identifies hosts (ARP, DHCP, LLDP, …). */
  industrial: boolean;
  /**
   * The inner layer of a family is carried by another protocol's dissector on that protocol's ports (CIP in
   * EtherNet/IP, S7comm-plus beside S7comm): its ports, category and gateway framing are the carrier's.
   */
  carrier?: ProtocolName;
  /**
   * A protocol that only shares its carrier's port and framing and is no layer of its family (IEC 61850 MMS beside
   * S7comm on ISO-on-TCP 102): a policy group for the carrier does not admit it, nor a group for it the carrier.
   */
  foreign?: true;
  /**
   * An inner protocol that rides beside its carrier (S7comm-plus beside S7comm on 102), not inside it as CIP rides
   * in EtherNet/IP: a carrier's group whose function or address list cannot name its requests does not admit it,
   * and a group for it does not admit the carrier's requests.
   */
  sibling?: true;
  /** The server port a policy group naming this protocol gets when it names no ports; null when none. */
  serverPort: { transport: 'tcp' | 'udp'; port: number } | null;
  /** Every port the pipeline dissects this protocol on (a carried layer lists none). */
  ports: PortSet;
  /**
   * Names in the service map for ports that are not simply the protocol's own (EtherNet/IP's implicit I/O port
   * is 'enip-io' over UDP and TCP alike).
   */
  serviceNames?: { tcp?: Readonly<Record<number, string>>; udp?: Readonly<Record<number, string>> };
  /** EtherTypes (or LLC codes, see link-dissector.ts) of frames carrying it directly over Ethernet. */
  etherTypes: readonly number[];
  /** Function code → name, for people writing policy (compared lowercased, '-' and spaces as '_'). */
  functions: Readonly<Record<number, string>>;
  /** What a client request does to the device; absent when the protocol's requests are not classified. */
  category?(m: Message): FunctionCategory;
  /**
   * Engineering operations by function code: they make a client an engineering workstation (roles) and, but
   * for file housekeeping, are each reported by the engineering_ops detector.
   */
  operations: Readonly<Record<number, EngineeringOp>>;
  /** Which requests `operations` applies to, when the function code alone does not say (S7: JOB PDUs only). */
  carriesOperation?(m: Message): boolean;
  /** The mode a stop or start request leaves the controller in; null for every other request. */
  requestedMode?(m: Message): RequestedMode | null;
  /**
   * False when the inline gateway does not check it request by request although it is classified (groups naming
   * it are enforced by port or refused as unenforceable).
   */
  gateway?: false;
  /**
   * A request whose content the gateway cannot read or trust (an OPC UA service on a Sign or SignAndEncrypt
   * channel): it can be neither allowed nor refused by function, so the group's `secured_channels` decides.
   */
  opaque?(m: Message): boolean;
  /**
   * The finer key a policy's function list may name for a request that carries a sub-function worth limiting on
   * its own (Modbus FC 90: each UMAS function), or -1. The key must be a code in `functions`.
   */
  subFunctionKey?(m: Message): number;
  /** Devices that serve it are outstations or RTUs of a SCADA master rather than PLCs of an HMI (DNP3, IEC 104). */
  outstation?: boolean;
  /** Every kind of malformation its dissector reports (the `kind` of each Message's anomaly). */
  anomalies: readonly K[];
  /** Its dissectors, bound by the registry to `ports.tcp`, `ports.udp` and `etherTypes` respectively. */
  stream?: StreamDissector;
  datagram?: DatagramDissector;
  link?: LinkDissector;
}
