import type { IdentityFacts } from '../dissect/message.js';

/** What an asset does on the control network, inferred from behaviour and disclosed identity. */
export type AssetRole =
  | 'plc'
  | 'rtu'
  | 'hmi'
  | 'engineering_workstation'
  | 'historian'
  | 'scada_server'
  | 'io_device'
  | 'bacnet_device'
  | 'network_device'
  | 'dhcp_server'
  | 'dns_server'
  | 'workstation'
  | 'scanner'
  | 'unknown';

/** A device seen on the network. Keyed by IP address, or by MAC for devices that only spoke layer 2. */
export interface Asset {
  id: string;
  ips: string[];
  mac: string | null;
  /** Vendor of the MAC's OUI (the NIC maker, often the device maker in OT). */
  macVendor: string | null;
  hostnames: string[];
  /** Identity disclosed by the device itself (Modbus device identification, S7 SZL, CIP ListIdentity, LLDP…). */
  identity: Omit<IdentityFacts, 'ip' | 'mac' | 'about' | 'hostname'>;
  /** Where each identity fact came from, e.g. { firmware: 'modbus:43/14 frame 812' }. */
  identitySources: Record<string, string>;
  /** When each identity fact was seen (capture time, seconds): across captures the newest fact wins. */
  identityTimes?: Record<string, number>;
  /**
   * The router this address was seen through (an off-subnet or public address, or a MAC that carries many
   * addresses): its MAC is the router's, so `mac` and `macVendor` stay empty rather than name the router.
   */
  behindRouter?: { mac: string; vendor: string | null };
  role: AssetRole;
  /** Why the role was chosen, in plain words. */
  roleReasons: string[];
  /** Industrial protocols this asset serves (as server/outstation) and uses (as client/master). */
  serves: string[];
  uses: string[];
  firstSeen: number;
  lastSeen: number;
  packetsSent: number;
  bytesSent: number;
  packetsReceived: number;
  bytesReceived: number;
}

export interface FunctionStats {
  protocol: string;
  func: number;
  name: string;
  count: number;
  /** Requests that changed device state (writes, control, program transfer). */
  writes: number;
  exceptions: number;
}

/** Address ranges touched on an edge, per address space, split into read and written. */
export interface TargetRanges {
  space: string;
  access: 'read' | 'write';
  ranges: Array<[start: number, end: number]>;
}

/** One conversation on the communication map: client → server, transport and server port. */
export interface Edge {
  id: string;
  client: string;
  server: string;
  transport: 'tcp' | 'udp' | 'ip';
  /** Server port (0 for protocols without ports). */
  port: number;
  /** Industrial protocol seen on the edge, or a service name guessed from the port ('tcp/22' when unknown). */
  protocol: string;
  protocols: string[];
  packets: number;
  bytes: number;
  firstSeen: number;
  lastSeen: number;
  functions: FunctionStats[];
  targets: TargetRanges[];
  requests: number;
  responses: number;
  /** Median time between repeated identical requests (polling period), seconds; null when not periodic. */
  pollInterval: number | null;
  /** Spread of that period (interquartile range), seconds. */
  pollJitter: number | null;
  /** Longest pause between two requests, seconds (0 with fewer than two requests). */
  maxRequestGap: number;
  anomalies: number;
  /** Kinds of malformed PDUs seen (numbers stripped), at most 16. */
  anomalyKinds: string[];
}

export interface InventorySnapshot {
  assets: Asset[];
  edges: Edge[];
}
