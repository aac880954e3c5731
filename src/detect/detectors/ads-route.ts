import type { Packet } from '../../dissect/packet.js';
import type { Detector } from '../detector.js';
import { finding } from '../detection.js';

/** Beckhoff ADS discovery/route service on UDP 48899: magic, invoke id, service id (6 = AddRoute). */
const ADS_UDP_PORT = 48899;
const MAGIC = 0x71146603;
const ADD_ROUTE = 6;
const TECHNIQUES = ['T0886', 'T0859'];

function u32le(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

/** The tags after the AMS address: id → value. */
function tags(b: Uint8Array, p: number, end: number): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  if (p + 4 > end) return out;
  const count = u32le(b, p);
  p += 4;
  for (let i = 0; i < count && i < 16 && p + 4 <= end; i++) {
    const id = b[p]! | (b[p + 1]! << 8),
      len = b[p + 2]! | (b[p + 3]! << 8);
    if (p + 4 + len > end) break;
    out.set(id, b.subarray(p + 4, p + 4 + len));
    p += 4 + len;
  }
  return out;
}

/** A tag's NUL-terminated ASCII value, empty when absent. */
function text(v: Uint8Array | undefined): string {
  if (v === undefined) return '';
  const z = v.indexOf(0);
  return String.fromCharCode(...(z < 0 ? v : v.subarray(0, z)));
}

/**
 * A Beckhoff ADS AddRoute: a TwinCAT engineering tool (or an attacker with the controller's credentials)
 * registers a route so its AMS address may program and control the PLC. It carries the user name and, in
 * clear, the password; the evidence says a password was sent, never what it was.
 */
export function adsAddRoute(): Detector {
  return {
    name: 'ads_add_route',
    dstPorts: [ADS_UDP_PORT],
    onPacket(pkt: Packet, ctx) {
      if (pkt.ipProto !== 17 || pkt.dstPort !== ADS_UDP_PORT || pkt.payloadLength < 24) return;
      const b = pkt.data,
        o = pkt.payloadOffset,
        end = o + pkt.payloadLength;
      if (u32le(b, o) !== MAGIC || u32le(b, o + 8) !== ADD_ROUTE) return;
      const t = tags(b, o + 20, end);
      const route = text(t.get(0x0c)),
        user = text(t.get(0x0d));
      ctx.report(
        finding({
          type: 'config_change',
          severity: 'high',
          ts: pkt.ts,
          frame: pkt.frame,
          src: pkt.srcIp,
          dst: pkt.dstIp,
          protocol: 'ads',
          detail: 'ads:add_route',
          fields: {
            route_name: route,
            user,
            password_sent: t.has(0x02),
            ams_net_id: [...b.subarray(o + 12, o + 18)].join('.'),
            attack: TECHNIQUES,
          },
          explanation: `${pkt.srcIp} added an ADS route${route ? ` "${route}"` : ''} on the Beckhoff controller ${pkt.dstIp}${user ? ` as user "${user}"` : ''}${t.has(0x02) ? ' with a clear-text password' : ''}: the route lets it program and control the PLC. ATT&CK for ICS ${TECHNIQUES.join(', ')}.`,
          response:
            'Check that this engineering station should reach the controller; remove unknown routes in TwinCAT and change the credentials that were sent in clear.',
        }),
      );
    },
  };
}
