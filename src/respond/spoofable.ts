import type { Detection } from '../detect/detection.js';
import type { TemporaryPermit } from './playbook-kernel.js';

/**
 * Detections that may rest on probes anyone on the segment can send with a forged source address: the scan
 * detector counts bare SYNs, UDP datagrams, ICMP echoes and ARP requests, none of which needs an answer to
 * reach the sensor; a decoy contact is one packet, a UDP datagram or a SYN as easily as a session. Such a
 * detection says someone probed, not that its source address did.
 */
export const SPOOFABLE_TYPES: ReadonlySet<Detection['type']> = new Set([
  'port_scan',
  'host_scan',
  'decoy_contact',
]);

/** A decoy contact is its source's own only once that source completed the decoy's TCP handshake. */
export const restsOnSpoofableProbes = (d: Detection): boolean =>
  SPOOFABLE_TYPES.has(d.type) &&
  !(d.type === 'decoy_contact' && d.evidence.fields['tcp_handshake'] === 'completed');

/**
 * Why a playbook may not act on `address` for this detection, or null: a live permit is a person's approved
 * session (a vendor's firmware download, an engineer's program change) — twenty forged SYNs must not end it
 * halfway or lock its holder out. Refused and recorded; the notice still goes, and a person decides.
 */
export function spoofRefusal(
  d: Detection,
  address: string,
  permits: readonly TemporaryPermit[],
): string | null {
  if (!restsOnSpoofableProbes(d)) return null;
  const live = permits.filter((p) => p.client === address || p.server === address);
  if (live.length === 0) return null;
  const names = live.map((p) => `${p.client} → ${p.server} ${p.transport}/${p.port}`).join(', ');
  return `${d.type} rests on probes anyone can send with a forged source address, and ${address} holds a live permit (${names}): not acted on automatically, a person decides`;
}
