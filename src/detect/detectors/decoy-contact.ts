import type { Detector } from '../detector.js';
import type { Baseline } from '../../discover/baseline.js';
import { finding } from '../detection.js';
import { TcpFlag } from '../../dissect/packet.js';

/** SYN-ACKs of decoys to devices of the baseline awaiting their ACK, at most (oldest dropped first). */
const MAX_PENDING_HANDSHAKES = 4096;
const SYN_ACK = TcpFlag.SYN | TcpFlag.ACK;

/**
 * Anything that reaches a decoy address. Decoys sit on addresses no baseline flow uses (the policy refuses any
 * other placement), so no normal traffic can produce this: every contact is someone exploring the zone.
 * `decoys` holds every address of every decoy pool, active or rotated out: a retired address stays a tripwire.
 */
export function decoyContact(decoys: ReadonlySet<string>): Detector {
  // A device of the baseline's address proves nothing by itself: UDP, ICMP and raw IP need no answer, and a TCP
  // SYN is as easy to forge. Its contact counts as its own only when it completes a decoy's handshake: the ACK of
  // the decoy's SYN-ACK, whose sequence number only the real holder of the address saw.
  const pending = new Map<string, number>();
  const key = (src: string, sport: number, decoy: string, dport: number): string =>
    `${src} ${sport} ${decoy} ${dport}`;
  return {
    name: 'decoy_contact',
    messages: 'arp',
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
      if (pkt.ipVersion === 0) return;
      if (!decoys.has(pkt.dstIp)) {
        if (
          pkt.ipProto === 6 &&
          (pkt.tcpFlags & SYN_ACK) === SYN_ACK &&
          decoys.has(pkt.srcIp) &&
          ctx.baseline.assets.has(pkt.dstIp)
        ) {
          if (pending.size >= MAX_PENDING_HANDSHAKES) pending.delete(pending.keys().next().value!);
          pending.set(key(pkt.dstIp, pkt.dstPort, pkt.srcIp, pkt.srcPort), (pkt.tcpSeq + 1) >>> 0);
        }
        return;
      }
      if (decoys.has(pkt.srcIp)) return;
      const port = pkt.dstPort;
      let spoofable = false,
        handshake = false;
      if (ctx.baseline.assets.has(pkt.srcIp)) {
        if (
          pkt.ipProto === 6 &&
          (pkt.tcpFlags & (TcpFlag.SYN | TcpFlag.RST | TcpFlag.ACK)) === TcpFlag.ACK
        ) {
          const k = key(pkt.srcIp, pkt.srcPort, pkt.dstIp, port);
          if (pending.get(k) === pkt.tcpAck) {
            handshake = true;
            pending.delete(k);
          }
        }
        spoofable = !handshake;
      }
      const how =
        pkt.ipProto === 6 ? 'TCP' : pkt.ipProto === 17 ? 'UDP' : `IP protocol ${pkt.ipProto}`;
      ctx.report(
        finding({
          type: 'decoy_contact',
          severity: 'critical',
          ts: pkt.ts,
          frame: pkt.frame,
          src: pkt.srcIp,
          dst: pkt.dstIp,
          protocol: 'ip',
          // Its own detection: a later proven contact from the same device opens anew (and may be acted on).
          detail: spoofable ? 'spoofable' : '',
          fields: {
            decoy: pkt.dstIp,
            ...(port ? { port } : {}),
            ip_proto: pkt.ipProto,
            mac: pkt.srcMac,
            ...(spoofable ? { spoofable: true } : {}),
            ...(handshake ? { tcp_handshake: 'completed' } : {}),
          },
          explanation: spoofable
            ? `${pkt.srcIp}, a device of the baseline, contacted decoy ${pkt.dstIp}${port ? ` on port ${port}` : ''} by ${how} without completing a TCP handshake: the source address may be spoofed, so this is reported but no playbook blocks the device on it.`
            : `${pkt.srcIp} contacted decoy ${pkt.dstIp}${port ? ` on port ${port}` : ''}${handshake ? ' and completed a TCP handshake' : ''}: no device of the plant talks to a decoy.`,
          response: spoofable
            ? 'Check the device and the segment: the device may be compromised, or someone is sending in its name (look for the MAC in the evidence).'
            : 'Treat the source as an intruder or a compromised host: block it (the zone playbook may already have) and find the device behind it.',
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
