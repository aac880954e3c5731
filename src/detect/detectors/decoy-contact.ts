import type { Detector } from '../detector.js';
import type { Baseline } from '../../discover/baseline.js';
import { finding } from '../detection.js';

/**
 * Anything that reaches a decoy address. Decoys sit on addresses no baseline flow uses (the policy refuses any
 * other placement), so no normal traffic can produce this: every contact is someone exploring the zone.
 * `decoys` holds every address of every decoy pool, active or rotated out: a retired address stays a tripwire.
 */
export function decoyContact(decoys: ReadonlySet<string>): Detector {
  return {
    name: 'decoy_contact',
    messages: 'arp',
    // An ARP request for a decoy from a newcomer: an ARP sweep (nmap's default on a LAN) touches decoys before
    // any IP packet. A device of the baseline asking is left out (a router refreshing its cache, a probe of
    // address conflict detection from 0.0.0.0): its IP packets to a decoy still count.
    onMessage(m, ctx) {
      if (m.protocol !== 'arp' || m.func !== 1 || m.fields === null) return;
      const target = String(m.fields.target_ip ?? ''),
        sender = String(m.fields.sender_ip ?? '');
      if (!decoys.has(target) || decoys.has(sender) || sender === '0.0.0.0' || sender === target)
        return;
      if (ctx.baseline.assets.has(sender)) return;
      ctx.report(
        finding({
          type: 'decoy_contact',
          severity: 'critical',
          ts: m.ts,
          frame: m.frame,
          src: sender,
          dst: target,
          protocol: 'arp',
          detail: '',
          fields: { decoy: target, arp: 'who-has', mac: m.srcMac },
          explanation: `${sender} asked by ARP for decoy ${target}: no device of the plant looks for a decoy.`,
          response:
            'Treat the source as an intruder or a compromised host: block it (the zone playbook may already have) and find the device behind it.',
        }),
      );
    },
    onPacket(pkt, ctx) {
      if (pkt.ipVersion === 0 || !decoys.has(pkt.dstIp) || decoys.has(pkt.srcIp)) return;
      const port = pkt.dstPort;
      ctx.report(
        finding({
          type: 'decoy_contact',
          severity: 'critical',
          ts: pkt.ts,
          frame: pkt.frame,
          src: pkt.srcIp,
          dst: pkt.dstIp,
          protocol: 'ip',
          detail: '',
          fields: {
            decoy: pkt.dstIp,
            ...(port ? { port } : {}),
            ip_proto: pkt.ipProto,
            mac: pkt.srcMac,
          },
          explanation: `${pkt.srcIp} contacted decoy ${pkt.dstIp}${port ? ` on port ${port}` : ''}: no device of the plant talks to a decoy.`,
          response:
            'Treat the source as an intruder or a compromised host: block it (the zone playbook may already have) and find the device behind it.',
        }),
      );
    },
  };
}

/**
 * The decoy addresses a detector may watch against this baseline: an address the baseline knows (a device, or
 * either end of a learned flow) is dropped, so that even a policy approved before that traffic was learned can
 * never turn normal traffic into a decoy contact. (`weir decoy run` refuses to place decoys there at all.)
 */
export function decoysOffBaseline(decoys: ReadonlySet<string>, b: Baseline): Set<string> {
  const used = new Set(b.assets);
  for (const e of Object.values(b.edges)) {
    used.add(e.client);
    used.add(e.server);
  }
  return new Set([...decoys].filter((a) => !used.has(a)));
}
