import type { DatagramDissector, StreamDissector } from './protocol.js';
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
export const streamDissectors: readonly StreamDissector[] = [modbus, s7comm, dnp3Tcp, iec104, enipTcp];
export const datagramDissectors: readonly DatagramDissector[] = [dnp3Udp, enipUdp, bacnet, dhcp, dns, nbns];
export const linkDissectors: readonly LinkDissector[] = [arp, lldp, cdp, profinetDcp, bacnetLlc];
