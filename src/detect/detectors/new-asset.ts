import type { Detector } from '../detector.js';
import { isLinkLocal6 } from '../housekeeping.js';
import { finding } from '../detection.js';

/** A device that sends traffic but is not in the baseline: a new laptop, a rogue device, an attacker. */
export function newAsset(): Detector {
  const reported = new Set<string>();
  return {
    name: 'new_asset',
    // The sender of a packet is one end of its edge: once that end has sent, later packets add nothing.
    packets: 'new-sender',
    onPacket(pkt, ctx) {
      if (pkt.ipVersion === 0) return;
      const ip = pkt.srcIp;
      if (ctx.baseline.assets.has(ip) || reported.has(ip) || ip === '0.0.0.0' || ip === '::')
        return;
      // A known device's IPv6 link-local address is that device, not a new one: the MAC says which.
      if (pkt.ipVersion === 6 && isLinkLocal6(ip) && ctx.baseline.knownMacs.has(pkt.srcMac)) return;
      reported.add(ip);
      ctx.report(
        finding({
          type: 'new_asset',
          severity: 'medium',
          ts: pkt.ts,
          frame: pkt.frame,
          src: ip,
          dst: pkt.dstIp,
          protocol: 'ip',
          detail: '',
          fields: {
            ip,
            mac: pkt.srcMac,
            first_contact: `${pkt.dstIp}${pkt.dstPort ? `:${pkt.dstPort}` : ''}`,
          },
          explanation: `${ip}${pkt.srcMac ? ` (${pkt.srcMac})` : ''} sent traffic but is not in the baseline inventory.`,
          response:
            'Identify the device and its owner; if it belongs, learn it into the baseline, otherwise isolate its switch port.',
        }),
      );
    },
  };
}
