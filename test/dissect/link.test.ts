import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readCaptureSync } from '../../src/capture/source.js';
import { decodeFrame } from '../../src/dissect/link.js';
import { newPacket } from '../../src/dissect/packet.js';
import { fixtureCaptures, sharedCaptures } from '../helpers/paths.js';

/**
 * True when the frame's own transport is TCP or UDP. tshark also fills tcp.* / udp.* from the header an ICMP error
 * quotes (RFC 792: the offending datagram's IP header and first 8 bytes), which is not this packet's transport.
 */
function ownTransport(frameProtocols: string): boolean {
  const layers = frameProtocols.split(':');
  const l4 = layers.findIndex((l) => l === 'tcp' || l === 'udp');
  const quote = layers.findIndex((l) => l === 'icmp' || l === 'icmpv6');
  return l4 >= 0 && (quote < 0 || l4 < quote);
}

test("an ICMP error's quoted UDP/TCP header is not the frame's transport", () => {
  assert.equal(ownTransport('eth:ethertype:ip:icmp:ip:udp'), false);
  assert.equal(ownTransport('eth:ethertype:ipv6:icmpv6:ipv6:tcp'), false);
  assert.equal(ownTransport('eth:ethertype:ip:udp:dns'), true);
  assert.equal(ownTransport('eth:ethertype:ip:tcp:enip:cip'), true);
  assert.equal(ownTransport('eth:ethertype:ip:icmp:data'), false);
});

test('link/IP/TCP/UDP decoding agrees with tshark on every frame of every capture (Ethernet, SLL, VLAN, IPv6)', (t) => {
  const files = sharedCaptures();
  if (!files) return t.skip('shared captures missing');
  const wrong: string[] = [];
  let frames = 0,
    quoted = 0;
  for (const f of [...files, ...fixtureCaptures()]) {
    const pkt = newPacket();
    const ours: string[] = [];
    readCaptureSync(f, (fr) => {
      decodeFrame(fr, pkt);
      const l4 = pkt.ipProto === 6 || pkt.ipProto === 17;
      ours.push(
        [
          pkt.srcIp,
          pkt.dstIp,
          l4 ? pkt.srcPort : '',
          l4 ? pkt.dstPort : '',
          l4 ? pkt.payloadLength : '',
        ].join('|'),
      );
    });
    const rows = execFileSync(
      'tshark',
      [
        '-r',
        f,
        '-T',
        'fields',
        '-e',
        'frame.protocols',
        '-e',
        'ip.src',
        '-e',
        'ipv6.src',
        '-e',
        'ip.dst',
        '-e',
        'ipv6.dst',
        '-e',
        'tcp.srcport',
        '-e',
        'udp.srcport',
        '-e',
        'tcp.dstport',
        '-e',
        'udp.dstport',
        '-e',
        'tcp.len',
        '-e',
        'udp.length',
      ],
      { maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'ignore'] },
    )
      .toString()
      .replace(/\n$/, '')
      .split('\n');
    assert.equal(ours.length, rows.length, f);
    rows.forEach((line, i) => {
      // First occurrence of each field: the outer header when tshark shows several (tunnels, ICMP quotes).
      const [protocols, s4, s6, d4, d6, ts, us, td, ud, tl, ul] = line
        .split('\t')
        .map((x) => (x ?? '').split(',')[0]!);
      const l4 = ownTransport(protocols!) && (ts || us) !== '';
      if (!l4 && (ts || us)) quoted++;
      const want = [
        s4 || s6,
        d4 || d6,
        l4 ? Number(ts || us) : '',
        l4 ? Number(td || ud) : '',
        l4 ? (tl ? Number(tl) : Number(ul) - 8) : '',
      ].join('|');
      frames++;
      if (ours[i] !== want)
        wrong.push(`${f} frame ${i + 1} (${protocols}): weir '${ours[i]}' tshark '${want}'`);
    });
  }
  t.diagnostic(
    `${frames} frames compared; ${quoted} ICMP errors whose quoted transport header tshark also lists`,
  );
  assert.deepEqual(wrong, [], `${wrong.length} frames disagree:\n${wrong.slice(0, 20).join('\n')}`);
});
