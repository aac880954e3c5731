import type { Message } from './message.js';
import type { DatagramDissector, FunctionCategory, StreamDissector } from './protocol.js';
import type { LinkDissector } from './link-dissector.js';
import { modbus } from './protocols/modbus.js';
import { s7comm } from './protocols/s7comm.js';
import { dnp3Tcp, dnp3Udp } from './protocols/dnp3.js';
import { iec104 } from './protocols/iec104.js';
import { enipTcp, enipUdp } from './protocols/enip.js';
import { bacnet, bacnetLlc } from './protocols/bacnet.js';
import { arp } from './protocols/arp.js';
import { lldp } from './protocols/lldp.js';
import { cdp } from './protocols/cdp.js';
import { profinetDcp } from './protocols/profinet-dcp.js';
import { dhcp } from './protocols/dhcp.js';
import { dns } from './protocols/dns.js';
import { nbns } from './protocols/nbns.js';

// The pipeline picks a dissector by TCP/UDP port or by EtherType; one table per carrier.
export const streamDissectors: readonly StreamDissector[] = [
  modbus,
  s7comm,
  dnp3Tcp,
  iec104,
  enipTcp,
];
export const datagramDissectors: readonly DatagramDissector[] = [
  dnp3Udp,
  enipUdp,
  bacnet,
  dhcp,
  dns,
  nbns,
];
export const linkDissectors: readonly LinkDissector[] = [arp, lldp, cdp, profinetDcp, bacnetLlc];

/** What a request does to the device, from the protocol's own file ('unknown' where it does not say). */
const CATEGORIES = new Map<string, (m: Message) => FunctionCategory>();
for (const d of streamDissectors) if (d.category) CATEGORIES.set(d.protocol, d.category);
// Inner layers of a family are classified by the carrier's file: CIP by EtherNet/IP, S7comm-plus by S7comm.
for (const [inner, outer] of [
  ['cip', 'enip'],
  ['s7comm_plus', 's7comm'],
] as const) {
  const c = CATEGORIES.get(outer);
  if (c) CATEGORIES.set(inner, c);
}

/** Category of a request; protocols without a classification fall back to the dissector's write flag. */
export function functionCategory(m: Message): FunctionCategory {
  const c = CATEGORIES.get(m.protocol);
  return c !== undefined ? c(m) : m.write ? 'write' : 'read';
}

/** Whether a protocol's file classifies its requests (the gateway refuses what it cannot classify). */
export function classifies(protocol: string): boolean {
  return CATEGORIES.has(protocol);
}

/** Category of a function code alone (no sub-function known), e.g. for checking a policy's function lists. */
export function functionCodeCategory(protocol: string, func: number): FunctionCategory {
  return functionCategory({
    protocol,
    func,
    subfunc: -1,
    role: 'request',
    fields: null,
    write: false,
  } as unknown as Message);
}
