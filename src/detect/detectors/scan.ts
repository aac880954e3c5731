import type { Detector } from '../detector.js';
import { TcpFlag } from '../../dissect/packet.js';
import { DEFAULT_SETTINGS, type Settings } from '../../settings/model.js';
import { finding } from '../detection.js';

/**
 * The thresholds (settings `detect.scan`): within `window_s` seconds, `ports_per_host` distinct ports on one
 * host make a port scan, `hosts_per_port` hosts on one port a sweep, and `arp_targets` addresses asked for
 * by one MAC an ARP sweep (hosts normally resolve a handful).
 */
export type ScanSettings = Settings['detect']['scan'];
/** Sweep keys for echo requests, which have no port. */
const ICMP_ECHO = -1;
const ICMPV6_ECHO = -2;

interface SourceWindow {
  start: number;
  portsByHost: Map<string, Set<number>>;
  hostsByPort: Map<number, Set<string>>;
  reportedHosts: Set<string>;
  reportedPorts: Set<number>;
}

/**
 * Port scans (many ports on one host) and host sweeps (one port, or ICMP echo, across many hosts). Only
 * probes outside the baseline count, so a SCADA server polling fifty RTUs is not a sweep.
 */
export function scans(s: ScanSettings = DEFAULT_SETTINGS.detect.scan): Detector {
  const WINDOW = s.window_s,
    VERTICAL = s.ports_per_host,
    HORIZONTAL = s.hosts_per_port,
    ARP_SWEEP = s.arp_targets;
  const sources = new Map<string, SourceWindow>();
  const arpSweeps = new Map<string, { start: number; targets: Set<string>; reported: boolean }>();
  return {
    name: 'scan',
    packets: 'unprofiled',
    messages: 'arp',
    onMessage(m, ctx) {
      // ARP sweeps: how scanners (nmap's default on a LAN) find hosts before touching them.
      if (m.protocol !== 'arp' || m.func !== 1 || m.fields === null) return;
      const target = String(m.fields.target_ip),
        sender = String(m.fields.sender_ip);
      if (target === sender || sender === '0.0.0.0') return;
      let w = arpSweeps.get(m.srcMac);
      if (w === undefined || m.ts - w.start > WINDOW) {
        w = { start: m.ts, targets: new Set(), reported: false };
        arpSweeps.set(m.srcMac, w);
      }
      w.targets.add(target);
      if (w.targets.size < ARP_SWEEP || w.reported) return;
      w.reported = true;
      ctx.report(
        finding({
          type: 'host_scan',
          severity: 'high',
          ts: m.ts,
          frame: m.frame,
          src: sender,
          dst: 'arp',
          protocol: 'arp',
          detail: 'arp',
          fields: {
            hosts_probed: w.targets.size,
            sample_hosts: [...w.targets].slice(0, 20),
            mac: m.srcMac,
            window_s: WINDOW,
          },
          explanation: `${sender} (${m.srcMac}) asked ARP for ${w.targets.size} addresses within ${WINDOW} s: a host sweep.`,
          response:
            'A sweep maps the plant before an attack: identify the source and block it unless it is an approved scan.',
        }),
      );
    },
    onPacket(pkt, ctx) {
      let port: number;
      if (pkt.ipProto === 6) {
        if ((pkt.tcpFlags & (TcpFlag.SYN | TcpFlag.ACK)) !== TcpFlag.SYN) return;
        port = pkt.dstPort;
      } else if (pkt.ipProto === 17) {
        if (!ctx.toServer) return;
        port = pkt.dstPort;
      } else if (pkt.ipProto === 1) {
        const b = pkt.data,
          o = pkt.payloadOffset;
        if (pkt.payloadLength < 1 || b[o] !== 8) return; // echo request
        port = ICMP_ECHO;
      } else if (pkt.ipProto === 58) {
        if (pkt.payloadLength < 1 || pkt.data[pkt.payloadOffset] !== 128) return; // ICMPv6 echo request
        port = ICMPV6_ECHO;
      } else return;
      if (ctx.edge?.profile) return;
      const src = pkt.srcIp,
        dst = pkt.dstIp;
      let w = sources.get(src);
      if (w === undefined || pkt.ts - w.start > WINDOW) {
        w = {
          start: pkt.ts,
          portsByHost: new Map(),
          hostsByPort: new Map(),
          reportedHosts: new Set(),
          reportedPorts: new Set(),
        };
        sources.set(src, w);
      }
      if (port >= 0) {
        let ports = w.portsByHost.get(dst);
        if (ports === undefined) {
          ports = new Set();
          w.portsByHost.set(dst, ports);
        }
        ports.add(port);
        if (ports.size >= VERTICAL && !w.reportedHosts.has(dst)) {
          w.reportedHosts.add(dst);
          ctx.report(
            finding({
              type: 'port_scan',
              severity: 'high',
              ts: pkt.ts,
              frame: pkt.frame,
              src,
              dst,
              protocol: pkt.ipProto === 6 ? 'tcp' : 'udp',
              detail: '',
              fields: {
                ports_probed: ports.size,
                sample_ports: [...ports].slice(0, 20),
                window_s: WINDOW,
              },
              explanation: `${src} probed at least ${ports.size} ${pkt.ipProto === 6 ? 'TCP' : 'UDP'} ports on ${dst} within ${WINDOW} s.`,
              response:
                'Scanning a control network is reconnaissance: identify the source; if it is not an approved assessment, block it and check what it reached.',
            }),
          );
        }
      }
      let hosts = w.hostsByPort.get(port);
      if (hosts === undefined) {
        hosts = new Set();
        w.hostsByPort.set(port, hosts);
      }
      hosts.add(dst);
      if (hosts.size >= HORIZONTAL && !w.reportedPorts.has(port)) {
        w.reportedPorts.add(port);
        const what =
          port === ICMP_ECHO
            ? 'ICMP echo'
            : port === ICMPV6_ECHO
              ? 'ICMPv6 echo'
              : `${pkt.ipProto === 6 ? 'TCP' : 'UDP'} port ${port}`;
        const proto =
          port === ICMP_ECHO
            ? 'icmp'
            : port === ICMPV6_ECHO
              ? 'icmpv6'
              : pkt.ipProto === 6
                ? 'tcp'
                : 'udp';
        ctx.report(
          finding({
            type: 'host_scan',
            severity: 'high',
            ts: pkt.ts,
            frame: pkt.frame,
            src,
            dst: port < 0 ? proto : `*:${port}`,
            protocol: proto,
            detail: String(port),
            fields: {
              hosts_probed: hosts.size,
              sample_hosts: [...hosts].slice(0, 20),
              port,
              window_s: WINDOW,
            },
            explanation: `${src} swept ${hosts.size} hosts with ${what} within ${WINDOW} s.`,
            response:
              'A sweep maps the plant before an attack: identify the source and block it unless it is an approved scan.',
          }),
        );
      }
    },
  };
}
