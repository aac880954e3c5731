import type { Message, PduContext, ProtocolName } from './message.js';

/** EtherType value the link decoder reports for 802.3 LLC/SNAP frames with Cisco's OUI and PID 0x2000 (CDP). */
export const ETHERTYPE_CDP = 0x0c2000;

/** A protocol carried directly in Ethernet frames (ARP, LLDP, Profinet DCP, CDP via SNAP). */
export interface LinkDissector {
  protocol: ProtocolName;
  etherTypes: readonly number[];
  dissect(b: Uint8Array, off: number, len: number, ctx: PduContext, out: Message[]): void;
}
