import { vendorOf } from '../../discover/oui.js';
import type { Detector } from '../detector.js';
import { finding } from '../detection.js';

/** OUI vendors whose NICs sit in controllers, I/O and drives (Rockwell's BOOTP/DHCP tool, Siemens PST, …). */
const AUTOMATION =
  /rockwell|allen.bradley|siemens|schneider|host engineering|koyo|omron|mitsubishi|phoenix contact|beckhoff|wago|yokogawa|honeywell|emerson|\babb\b|moxa|hirschmann|turck|pilz|b&r|eaton|red lion|prosoft|hms industrial|bosch rexroth|lenze|danfoss|festo|keyence|yaskawa|opto 22|ge fanuc|ge intelligent|schweitzer|sel\b/i;

const TECHNIQUES = ['T0836', 'T0855'];

/**
 * A BOOTP/DHCP server handing an address to a controller: how engineering tools (Rockwell BOOTP/DHCP Server,
 * vendor commissioning tools) change a device's IP address. Reported when the device is known under another
 * address, or when its NIC belongs to an automation vendor; an office laptop's lease is not worth a line.
 */
export function addressAssignment(): Detector {
  let byMac: Map<string, string> | null = null;
  return {
    name: 'address_assignment',
    messages: 'all',
    protocols: ['dhcp'],
    onMessage(m, ctx) {
      if (m.protocol !== 'dhcp' || m.role !== 'response') return;
      // BOOTREPLY (no message type), OFFER or ACK.
      if (m.func !== -1 && m.func !== 2 && m.func !== 5) return;
      const id = m.identity;
      if (id === null || id.ip === undefined || id.mac === undefined || id.ip === '0.0.0.0') return;
      if (byMac === null) {
        byMac = new Map();
        for (const [ip, mac] of Object.entries(ctx.baseline.baseline.macs)) byMac.set(mac, ip);
      }
      const before = byMac.get(id.mac);
      const vendor = vendorOf(id.mac);
      const moved = before !== undefined && before !== id.ip;
      const automation = vendor !== undefined && AUTOMATION.test(vendor);
      // A renewal of the address the baseline knows changes nothing.
      if (before === id.ip || (!moved && !automation)) return;
      const server = m.srcIp || m.srcMac;
      const how = m.func === -1 ? 'BOOTP' : `DHCP ${m.funcName}`;
      ctx.report(
        finding({
          type: 'network_config_change',
          severity: moved ? 'high' : 'medium',
          ts: m.ts,
          frame: m.frame,
          src: server,
          dst: id.ip,
          protocol: 'dhcp',
          detail: `address:${id.mac}>${id.ip}`,
          fields: {
            mac: id.mac,
            vendor: vendor ?? null,
            assigned_ip: id.ip,
            previous_ip: before ?? null,
            hostname: id.hostname ?? null,
            message: how,
            attack: TECHNIQUES,
          },
          explanation: `${server} assigned ${id.ip} to ${id.mac}${vendor ? ` (${vendor})` : ''}${id.hostname ? `, "${id.hostname}"` : ''} by ${how}${moved ? `; the baseline knows this device as ${before}` : ''}. ATT&CK for ICS ${TECHNIQUES.join(', ')}.`,
          response:
            'Check that this address change of a control device was planned; a wrong address cuts the device off its HMI and peers.',
        }),
      );
    },
  };
}

/**
 * A PROFINET DCP Set: how a tool (or an attacker on the same segment) renames a device or moves it to another
 * IP address. Always an engineering operation: a device that takes the wrong address or name drops out of its
 * IO controller's configuration.
 */
export function dcpSet(): Detector {
  return {
    name: 'dcp_set',
    messages: 'all',
    protocols: ['profinet_dcp'],
    onMessage(m, ctx) {
      if (m.protocol !== 'profinet_dcp' || m.func !== 4 || m.role !== 'request') return;
      const ip = m.identity?.ip;
      const name = m.fields?.name_of_station;
      const what =
        ip !== undefined
          ? `set its IP address to ${ip}${m.fields?.netmask ? `/${String(m.fields.netmask)}` : ''}`
          : name !== undefined
            ? `renamed it "${String(name)}"`
            : 'changed its DCP parameters';
      ctx.report(
        finding({
          type: 'network_config_change',
          severity: 'high',
          ts: m.ts,
          frame: m.frame,
          src: m.srcMac,
          dst: m.dstMac,
          protocol: 'profinet_dcp',
          detail: `dcp:set`,
          fields: { ...(m.fields ?? {}), ip: ip ?? null, attack: TECHNIQUES },
          explanation: `${m.srcMac} sent a PROFINET DCP Set to ${m.dstMac} and ${what}. ATT&CK for ICS ${TECHNIQUES.join(', ')}.`,
          response:
            'Check that this device change was planned; a PROFINET device with a new address or name falls out of its IO controller.',
        }),
      );
    },
  };
}
