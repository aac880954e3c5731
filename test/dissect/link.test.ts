import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readCaptureSync } from '../../src/capture/source.js';
import { decodeFrame } from '../../src/dissect/link.js';
import { newPacket } from '../../src/dissect/packet.js';
import { fixtureCaptures, sharedCaptures } from '../helpers/paths.js';

test('link/IP/TCP/UDP decoding agrees with tshark on every frame of every capture (Ethernet, SLL, VLAN, IPv6)', (t) => {
  const files = sharedCaptures();
  if (!files) return t.skip('shared captures missing');
  for (const f of [...files, ...fixtureCaptures()]) {
    const pkt = newPacket();
    const ours: string[] = [];
    readCaptureSync(f, (fr) => {
      decodeFrame(fr, pkt);
      const l4 = pkt.ipProto === 6 || pkt.ipProto === 17;
      ours.push([pkt.srcIp, pkt.dstIp, l4 ? pkt.srcPort : '', l4 ? pkt.dstPort : '', l4 ? pkt.payloadLength : ''].join('|'));
    });
    const rows = execFileSync('tshark', ['-r', f, '-T', 'fields', '-e', 'ip.src', '-e', 'ipv6.src', '-e', 'ip.dst', '-e', 'ipv6.dst',
      '-e', 'tcp.srcport', '-e', 'udp.srcport', '-e', 'tcp.dstport', '-e', 'udp.dstport', '-e', 'tcp.len', '-e', 'udp.length'], { maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString().replace(/\n$/, '').split('\n');
    assert.equal(ours.length, rows.length, f);
    rows.forEach((line, i) => {
      const [s4, s6, d4, d6, ts, us, td, ud, tl, ul] = line.split('\t').map((x) => (x ?? '').split(',')[0]!);
      const l4 = ts || us;
      const want = [s4 || s6, d4 || d6, l4 ? Number(ts || us) : '', l4 ? Number(td || ud) : '', l4 ? (tl ? Number(tl) : Number(ul) - 8) : ''].join('|');
      assert.equal(ours[i], want, `${f} frame ${i + 1}`);
    });
  }
});
