// IPv6 link housekeeping (neighbour discovery, duplicate address detection, MLD, router solicitation and
// advertisement) is how every IPv6 host keeps its link working: it is not a new protocol or conversation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { learnThenDetectAt } from '../../bench/detect.js';
import { pcap } from '../fixtures-gen/pcap-writer.js';
import { hmi, plc, s7NormalSession } from '../fixtures-gen/s7-fragments.js';
import { echo6, joinLink } from '../fixtures-gen/icmpv6-frames.js';

const T0 = 1_767_225_600;

/** A normal S7 session to learn from, then (after `T0 + 30`) the given frames. */
function capture(extra: Buffer[]): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'weir-icmpv6-')), 'link.pcap');
  writeFileSync(
    file,
    Buffer.concat([s7NormalSession(100), pcap(extra, T0 + 30, 0.05).subarray(24)]),
  );
  return file;
}

test('IPv6 DAD, neighbour discovery, MLD and router solicitation/advertisement from baseline devices raise nothing', () => {
  const frames = joinLink(plc.mac, 'fe80::14', hmi.mac, 'fe80::a', hmi.mac, 'fe80::a');
  const r = learnThenDetectAt(capture(frames), T0 + 25);
  assert.deepEqual(
    r.detections.map((d) => `${d.type} ${d.src}>${d.dst}: ${d.explanation}`),
    [],
  );
});

test('an ICMPv6 conversation outside the baseline is named ICMPv6, not "IP protocol 58"', () => {
  const r = learnThenDetectAt(capture([echo6(plc.mac, 'fe80::14', hmi.mac, 'fe80::a')]), T0 + 25);
  const text = r.detections.map((d) => `${d.type} ${d.protocol} ${d.explanation}`).join('\n');
  assert.doesNotMatch(text, /IP protocol 58/);
  const edge = r.detections.find((d) => d.type === 'new_edge');
  assert.ok(edge, text);
  assert.equal(edge.protocol, 'icmpv6');
  assert.match(edge.explanation, /ICMPv6 echo request/);
});

test('housekeeping from a device the baseline does not know still reveals a new asset, once', () => {
  const frames = joinLink('02:00:5e:07:00:66', 'fe80::66', hmi.mac, 'fe80::a', hmi.mac, 'fe80::a');
  const r = learnThenDetectAt(capture(frames), T0 + 25);
  assert.deepEqual(
    r.detections.map((d) => `${d.type} ${d.src}`),
    ['new_asset fe80::66'],
  );
});

test('an ICMPv6 echo sweep is a host scan named ICMPv6 echo', () => {
  const frames = Array.from({ length: 10 }, (_, i) =>
    echo6(
      '02:00:5e:07:00:66',
      'fe80::66',
      `02:00:5e:07:01:${String(i).padStart(2, '0')}`,
      `fe80::1:${i}`,
    ),
  );
  const r = learnThenDetectAt(capture(frames), T0 + 25);
  const sweep = r.detections.find((d) => d.type === 'host_scan');
  assert.ok(sweep, r.detections.map((d) => d.type).join(', '));
  assert.equal(sweep.protocol, 'icmpv6');
  assert.match(sweep.explanation, /swept 8 hosts with ICMPv6 echo/);
});
