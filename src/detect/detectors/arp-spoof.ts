import type { Detector } from '../detector.js';
import { finding } from '../detection.js';

/**
 * ARP claims that move an IP to another MAC: against the baseline that is spoofing (a man in the middle on
 * the control LAN); between two MACs seen in this run, an IP conflict.
 */
export function arpSpoofing(): Detector {
  const seen = new Map<string, string>();
  return {
    name: 'arp_spoofing',
    messages: 'arp',
    onMessage(m, ctx) {
      if (m.protocol !== 'arp' || m.identity === null) return;
      const ip = m.identity.ip,
        mac = m.identity.mac ?? m.srcMac;
      if (ip === undefined || ip === '0.0.0.0' || !mac) return;
      const known = ctx.baseline.macs.get(ip);
      const prev = seen.get(ip);
      seen.set(ip, mac);
      if (known !== undefined && known !== mac) {
        ctx.report(
          finding({
            type: 'arp_spoofing',
            severity: 'high',
            ts: m.ts,
            frame: m.frame,
            src: mac,
            dst: ip,
            protocol: 'arp',
            detail: `${ip}|${mac}`,
            fields: { ip, claimed_by: mac, baseline_mac: known },
            explanation: `${mac} claims ${ip} in ARP, but ${ip} belongs to ${known} in the baseline: traffic for ${ip} may be redirected through ${mac}.`,
            response:
              'Find the port of the claiming MAC on the switch and isolate it; check the ARP tables of the affected controllers and HMIs.',
          }),
        );
      } else if (known === undefined && prev !== undefined && prev !== mac) {
        ctx.report(
          finding({
            type: 'ip_conflict',
            severity: 'medium',
            ts: m.ts,
            frame: m.frame,
            src: mac,
            dst: ip,
            protocol: 'arp',
            detail: ip,
            fields: { ip, macs: [prev, mac] },
            explanation: `${ip} is claimed by both ${prev} and ${mac}.`,
            response:
              'Two devices share an address (misconfiguration or spoofing): find both and correct the addressing.',
          }),
        );
      }
    },
  };
}
