import { test } from 'node:test';
import assert from 'node:assert/strict';
import { detection } from './events.js';
import { parseCef, parseLeef } from './parse.js';
import { detectionEvent, nextUpdate } from '../../src/export/detection-updates.js';
import { incidentEvent, IncidentSource } from '../../src/export/incident-event.js';
import { cef } from '../../src/export/formats/cef.js';
import { leef } from '../../src/export/formats/leef.js';
import { ecsDocument } from '../../src/export/formats/ecs.js';
import { octetCounted, syslogMessage } from '../../src/export/syslog.js';
import { parseDestination } from '../../src/export/destination.js';
import type { Detection } from '../../src/detect/detection.js';
import { sinkSpecs } from '../../src/cli/export-options.js';
import { openStore } from '../../src/store/db.js';
import { DetectionSource } from '../../src/export/detection-source.js';
import {
  pruneDelivered,
  queuedAfter,
  setSinkCursor,
  sinkCursor,
} from '../../src/store/export-store.js';

const observer = { hostname: 'weir-1', vendor: 'Weir', product: 'Weir', version: '0.1.0' };

test('RFC 5424 header: PRI from facility and severity, UTC timestamp, NILVALUE procid, msgid, SD with the event id', () => {
  const e = detectionEvent(detection(1, { severity: 'critical' }), 0, 'new');
  const m = syslogMessage(e, 'payload', { facility: 16, hostname: 'plant a', appName: 'weir' });
  // local0 (16) * 8 + crit (2) = 130; the space in the host name is not PRINTUSASCII and goes.
  assert.equal(
    m,
    `<130>1 2023-11-14T22:13:21.000Z planta weir - detection [weir@32473 eventId="det-d00001-0" update="0"] payload`,
  );
  const framed = octetCounted('é x');
  assert.equal(framed.toString(), '4 é x', 'octet counting counts bytes, not characters');
});

test('CEF escapes pipes in the header and = \\ and line breaks in extensions; the fields survive a parse', () => {
  const d = detection(2, {
    src: '10.77.0.66',
    techniques: ['T0855', 'T0836'],
  } as Partial<Detection>);
  const e = detectionEvent(d as Detection & { techniques: string[] }, 3, 'count');
  const text = cef.render({ ...e, name: 'a|b' }, observer);
  assert.ok(!text.includes('\n'));
  const { header, ext } = parseCef(text);
  assert.deepEqual(header, [
    'CEF:0',
    'Weir',
    'Weir',
    '0.1.0',
    'function_outside_profile',
    'a|b',
    '8',
  ]);
  assert.equal(ext.src, '10.77.0.66');
  assert.equal(ext.dst, '10.77.0.21');
  assert.equal(ext.dpt, '502');
  assert.equal(ext.externalId, 'det-d00002-3');
  assert.equal(ext.cs2, 'T0855,T0836');
  assert.equal(ext.msg, d.explanation);
});

test('LEEF 2.0: the ^ delimiter declared, attributes carry no delimiter, tab or newline', () => {
  const e = detectionEvent(detection(3, { explanation: 'a\tb\nc^d' }), 0, 'new');
  const { header, attrs } = parseLeef(leef.render(e, observer));
  assert.deepEqual(header, ['LEEF:2.0', 'Weir', 'Weir', '0.1.0', 'function_outside_profile', '^']);
  assert.equal(attrs.msg, 'a b c d');
  assert.equal(attrs.sev, '8');
  assert.equal(attrs.src, '10.77.0.66');
  assert.equal(attrs.dstPort, '502');
  assert.equal(attrs.externalId, 'det-d00003-0');
});

test('ECS: event.*, source/destination, network.protocol, rule.*, observer.*, threat.technique.id only when known', () => {
  const plain = ecsDocument(detectionEvent(detection(4), 0, 'new'), observer) as any;
  assert.equal(plain.event.id, 'det-d00004-0');
  assert.equal(plain.event.kind, 'alert');
  assert.equal(plain.event.severity, 73);
  assert.deepEqual(plain.source, { ip: '10.77.0.66' });
  assert.deepEqual(plain.destination, { ip: '10.77.0.21', port: 502 });
  assert.equal(plain.network.protocol, 'modbus');
  assert.equal(plain.rule.id, 'function_outside_profile');
  assert.equal(plain.observer.hostname, 'weir-1');
  assert.equal(plain.threat, undefined);
  const withT = detection(5) as Detection & { techniques: string[] };
  withT.techniques = ['T0846'];
  const doc = ecsDocument(detectionEvent(withT, 0, 'new'), observer) as any;
  assert.deepEqual(doc.threat.technique.id, ['T0846']);
});

test('updates: a new detection always, then only when the count doubled after the rate limit, or the severity rose', () => {
  const d = detection(6);
  const first = nextUpdate(d, undefined)!;
  assert.equal(first.reason, 'new');
  const grown = { ...d, count: 3, lastTs: d.ts + 10 };
  assert.equal(nextUpdate(grown, first.mark), null, 'rate limited');
  const later = { ...d, count: 3, lastTs: d.ts + 400 };
  assert.equal(nextUpdate(later, first.mark)!.reason, 'count');
  const small = nextUpdate({ ...d, count: 1, lastTs: d.ts + 4000 }, first.mark);
  assert.equal(small, null, 'no change, no event');
  const worse = nextUpdate({ ...d, severity: 'critical', lastTs: d.ts + 1 }, first.mark)!;
  assert.equal(worse.reason, 'severity', 'escalation is never rate limited');
  assert.equal(worse.mark.updates, 1);
});

test('incidents: an event when opened, when status or severity changes, none for the same state again', () => {
  const inc = {
    id: 'inc-7',
    title: 'Intruder 10.77.0.66: scan, new edge, writes',
    severity: 'high' as const,
    status: 'open',
    tactics: ['discovery', 'impair-process-control'],
    techniques: ['T0846', 'T0855'],
    assets: ['plc-1'],
    zones: ['control'],
    firstSeen: 1_700_000_000,
    lastSeen: 1_700_000_100,
    detectionIds: ['a', 'b', 'c'],
  };
  const src = new IncidentSource();
  const [a] = src.events([inc]);
  assert.equal(a!.id, 'inc-inc-7-0');
  assert.deepEqual(src.events([{ ...inc }]), [], 'same state, no event');
  const [b] = src.events([{ ...inc, status: 'contained' }]);
  assert.equal(b!.id, 'inc-inc-7-1');
  assert.equal(b!.reason, 'status');
  const [c] = src.events([{ ...inc, status: 'contained', severity: 'critical' }]);
  assert.equal(c!.reason, 'severity');
  const doc = ecsDocument(a!, observer) as any;
  assert.deepEqual(doc.threat.technique.id, ['T0846', 'T0855']);
  assert.deepEqual(doc.threat.tactic.name, ['discovery', 'impair-process-control']);
  assert.equal(doc.weir.status, 'open');
  assert.equal(doc.event.dataset, 'weir.incident');
  const { ext } = parseCef(cef.render(incidentEvent(inc), observer));
  assert.equal(ext.cs3, 'inc-7');
  assert.equal(ext.cs4, 'discovery,impair-process-control');
});

test('destinations: schemes, default ports, facility; credentials refused without repeating them', () => {
  assert.deepEqual(parseDestination('syslog+tls://siem.plant:6514?facility=local4'), {
    transport: 'tls',
    host: 'siem.plant',
    port: 6514,
    facility: 20,
    label: 'syslog+tls://siem.plant:6514',
  });
  assert.equal(parseDestination('syslog+udp://10.0.0.5').transport, 'udp');
  assert.equal((parseDestination('syslog+udp://10.0.0.5') as { port: number }).port, 514);
  assert.equal(parseDestination('jsonl:/tmp/x.jsonl').transport, 'jsonl');
  assert.throws(
    () => parseDestination('syslog+tcp://admin:hunter2@10.0.0.5:514'),
    (e: Error) => /user or password/.test(e.message) && !e.message.includes('hunter2'),
  );
  assert.throws(() => parseDestination('http://x'), /scheme/);
  assert.throws(
    () => parseDestination('syslog+tcp://x?token=abc'),
    (e: Error) => !e.message.includes('abc'),
  );
});

test('export options: one format for all destinations or one each; --ca goes to TLS destinations only', () => {
  const two = sinkSpecs(['syslog+tcp://127.0.0.1:1', 'syslog+tls://127.0.0.1:2'], {
    format: ['leef'],
    ca: '/ca.pem',
  });
  assert.deepEqual(
    two.map((s) => [s.format.name, s.ca]),
    [
      ['leef', undefined],
      ['leef', '/ca.pem'],
    ],
  );
  const each = sinkSpecs(['syslog+udp://127.0.0.1:1', 'jsonl:/tmp/x'], { format: ['cef', 'ecs'] });
  assert.deepEqual(
    each.map((s) => s.format.name),
    ['cef', 'ecs'],
  );
  assert.throws(
    () =>
      sinkSpecs(['syslog+udp://a:1', 'syslog+udp://b:1', 'syslog+udp://c:1'], {
        format: ['cef', 'ecs'],
      }),
    /one --format for all destinations or one per destination/,
  );
  assert.throws(
    () => sinkSpecs(['syslog+udp://a:1'], { format: ['xml'] }),
    /unknown export format "xml"/,
  );
});

test('the queue keeps what a destination still needs and drops what all have had for long enough', () => {
  const db = openStore(':memory:');
  new DetectionSource(db).enqueue([detection(1), detection(2), detection(3)]);
  sinkCursor(db, 'a');
  sinkCursor(db, 'b');
  setSinkCursor(db, 'a', { sent: 3, acked: 3 });
  setSinkCursor(db, 'b', { sent: 1, acked: 1 });
  assert.equal(pruneDelivered(db, 0), 1, 'only what b has too');
  assert.deepEqual(
    queuedAfter(db, 0, 10).map((q) => q.seq),
    [2, 3],
  );
  assert.equal(pruneDelivered(db, 3600), 0, 'not old enough');
  db.close();
});
