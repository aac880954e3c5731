import type { Detector } from '../detector.js';

/**
 * Anything that reaches a decoy address. Decoys sit on addresses no baseline flow uses (the policy refuses any
 * other placement), so no normal traffic can produce this: every contact is someone exploring the zone.
 * `decoys` holds every address of every decoy pool, active or rotated out: a retired address stays a tripwire.
 */
export function decoyContact(decoys: ReadonlySet<string>): Detector {
  return {
    name: 'decoy_contact',
    onPacket(pkt, ctx) {
      if (pkt.ipVersion === 0 || !decoys.has(pkt.dstIp) || decoys.has(pkt.srcIp)) return;
      const port = pkt.dstPort;
      ctx.report({
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
      });
    },
  };
}
