import type { Message, PduContext, ProtocolName } from './message.js';

/** EtherType value the link decoder reports for 802.3 LLC/SNAP frames with Cisco's OUI and PID 0x2000 (CDP). */
export const ETHERTYPE_CDP = 0x0c2000;

/** EtherType-like code the link decoder reports for plain 802.2 LLC frames (no SNAP): 0x1000000 + DSAP·256 + SSAP. */
export function llcType(dsap: number, ssap: number): number {
  return 0x1000000 + dsap * 256 + ssap;
}

/** BACnet over ISO 8802-2 LLC (BACnet/Ethernet, LSAP 0x82). */
export const ETHERTYPE_BACNET_LLC = llcType(0x82, 0x82);

/** A protocol carried directly in Ethernet frames (ARP, LLDP, Profinet DCP, CDP via SNAP); EtherTypes in its descriptor. */
export interface LinkDissector {
  protocol: ProtocolName;
  dissect(b: Uint8Array, off: number, len: number, ctx: PduContext, out: Message[]): void;
}
