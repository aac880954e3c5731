import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { openStore, type Db } from '../../src/store/db.js';
import { Exporter } from '../../src/export/exporter.js';
import { parseDestination } from '../../src/export/destination.js';
import { formatNamed } from '../../src/export/formats/index.js';
import { detection } from './events.js';
import {
  certFor,
  eventIdOf,
  Rsyslog,
  startRsyslog,
  stopRsyslog,
  type Received,
} from './rsyslog.js';
import tls from 'node:tls';
import net from 'node:net';
import { parseCef, parseLeef } from './parse.js';
import { weir } from '../helpers/weir-cli.js';

// A real receiver: Debian's rsyslogd, started here on loopback ports with TCP, TLS (gtls) and UDP inputs.
let dir: string;
let rs: Rsyslog;
let n = 0;

before(async () => ({ dir, rs } = await startRsyslog('weir-rsyslog-')));
after(() => stopRsyslog(rs, dir));

function store(): Db {
  return openStore(path.join(dir, `s${++n}.db`));
}

/** Send `count` detections through one destination and return what rsyslog wrote for them. */
async function sendThrough(
  url: string,
  format: string,
  count: number,
  ca?: string,
): Promise<Received[]> {
  const db = store();
  const ex = new Exporter(
    db,
    [{ destination: parseDestination(url), format: formatNamed(format), ca }],
    {
      hostname: 'weir-test',
    },
  );
  const base = n * 1000;
  const ds = Array.from({ length: count }, (_, i) => detection(base + i));
  ex.offerDetections(ds);
  const left = await ex.drain(15_000);
  await ex.stop();
  db.close();
  assert.equal(left[0]!.pending, 0, `all delivered (${left[0]!.error})`);
  const ids = new Set(ds.map((d) => `det-${d.id}-0`));
  const got = await (async () => {
    const until = Date.now() + 10_000;
    for (;;) {
      const r = rs.received().filter((m) => ids.has(eventIdOf(m) ?? ''));
      if (r.length >= count || Date.now() > until) return r;
      await new Promise((res) => setTimeout(res, 100));
    }
  })();
  return got;
}

for (const transport of ['tcp', 'tls'] as const) {
  const url = () =>
    `syslog+${transport}://127.0.0.1:${transport === 'tcp' ? rs.tcpPort : rs.tlsPort}`;
  const ca = () => (transport === 'tls' ? rs.certs!.ca : undefined);

  test(`CEF over ${transport}: rsyslog parses the RFC 5424 header and the CEF fields survive`, async () => {
    const got = await sendThrough(url(), 'cef', 5, ca());
    assert.equal(got.length, 5);
    for (const m of got) {
      assert.equal(m.input, transport);
      assert.equal(m.pri, 16 * 8 + 3, 'local0.err for a high detection');
      assert.equal(m.app, 'weir');
      assert.equal(m.host, 'weir-test');
      assert.equal(m.msgid, 'detection');
      assert.match(m.ts, /^2023-11-\d\dT/);
      const { header, ext } = parseCef(m.msg);
      assert.equal(header[0], 'CEF:0');
      assert.equal(header[4], 'function_outside_profile');
      assert.equal(ext.externalId, eventIdOf(m));
      assert.equal(ext.src, '10.77.0.66');
      assert.match(
        ext.msg!,
        /^Write single coil \| from 10\.77\.0\.66 = never seen \\ on this edge "\d+"\nsecond line$/,
      );
    }
  });

  test(`LEEF 2.0 over ${transport}`, async () => {
    const got = await sendThrough(url(), 'leef', 3, ca());
    assert.equal(got.length, 3);
    for (const m of got) {
      const { header, attrs } = parseLeef(m.msg);
      assert.equal(header[0], 'LEEF:2.0');
      assert.equal(header[5], '^');
      assert.equal(attrs.dst, '10.77.0.21');
      assert.equal(attrs.externalId, eventIdOf(m));
    }
  });

  test(`ECS JSON over ${transport}`, async () => {
    const got = await sendThrough(url(), 'ecs', 3, ca());
    assert.equal(got.length, 3);
    for (const m of got) {
      const doc = JSON.parse(m.msg);
      assert.equal(doc.event.id, eventIdOf(m));
      assert.equal(doc.source.ip, '10.77.0.66');
      assert.equal(doc.destination.port, 502);
      assert.equal(doc.observer.hostname, 'weir-test');
    }
  });
}

test('UDP: messages arrive, with the facility the URL names', async () => {
  const got = await sendThrough(`syslog+udp://127.0.0.1:${rs.udpPort}?facility=local4`, 'cef', 3);
  assert.equal(got.length, 3);
  assert.ok(got.every((m) => m.input === 'udp' && m.msg.startsWith('CEF:0|')));
  assert.ok(
    got.every((m) => m.pri === 20 * 8 + 3),
    'local4.err',
  );
});

test('TLS: a receiver whose certificate the given CA did not sign is refused with a clear error, nothing sent', async () => {
  const db = store();
  const ex = new Exporter(db, [
    {
      destination: parseDestination(`syslog+tls://127.0.0.1:${rs.tlsPort}`),
      format: formatNamed('cef'),
      ca: rs.certs!.wrongCa,
    },
  ]);
  ex.offerDetections([detection(99_001)]);
  const left = await ex.drain(10_000);
  await ex.stop();
  db.close();
  assert.equal(left[0]!.pending, 1);
  assert.match(left[0]!.error!, /certificate is not verified .*--ca/);
  assert.ok(!rs.received().some((m) => eventIdOf(m) === 'det-d99001-0'));
});

test('TLS: the name is checked — a certificate from the right CA for another name is refused', async () => {
  // rsyslog's certificate names 127.0.0.1 and localhost; this receiver (a TLS listener with a certificate the
  // same CA signed, for siem.example only) is reached as 127.0.0.1, so the name check alone must refuse it.
  const other = certFor(dir, 'other', 'DNS:siem.example');
  const server = tls.createServer(
    { cert: readFileSync(other.cert), key: readFileSync(other.key) },
    (s) => s.resume(),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const db = store();
  const ex = new Exporter(db, [
    {
      destination: parseDestination(`syslog+tls://127.0.0.1:${port}`),
      format: formatNamed('cef'),
      ca: rs.certs!.ca,
    },
  ]);
  ex.offerDetections([detection(99_002)]);
  const left = await ex.drain(10_000);
  await ex.stop();
  db.close();
  server.close();
  assert.equal(left[0]!.pending, 1);
  assert.match(left[0]!.error!, /ERR_TLS_CERT_ALTNAME_INVALID/);
});

test('weir export (CLI): wrong CA exits non-zero naming the problem; a URL with a password is refused without echoing it', async () => {
  const db = store();
  const file = db.name;
  db.close();
  const r = await weir([
    'export',
    '--db',
    file,
    '--to',
    `syslog+tls://localhost:${rs.tlsPort}`,
    '--ca',
    rs.certs!.wrongCa,
    '--format',
    'cef',
  ]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /certificate is not verified/);
  const bad = await weir([
    'export',
    '--db',
    file,
    '--to',
    `syslog+tcp://siem:S3cret-pw@127.0.0.1:${rs.tcpPort}`,
  ]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /user or password/);
  assert.ok(!(bad.stdout + bad.stderr).includes('S3cret-pw'));
});

test('incidents go through the same queue (ECS over TLS); after a restart the same incident is not sent again', async () => {
  const db = store();
  const spec = {
    destination: parseDestination(`syslog+tls://localhost:${rs.tlsPort}`),
    format: formatNamed('ecs'),
    ca: rs.certs!.ca,
  };
  const inc = {
    id: `i${n}`,
    title: 'Intruder 10.77.0.66: port scan, new edge, unauthorised writes',
    severity: 'critical' as const,
    status: 'open',
    tactics: ['Discovery', 'Impair Process Control'],
    techniques: ['T0846', 'T0855', 'T0836'],
    assets: ['plc1', 'attacker'],
    zones: ['control'],
    firstSeen: 1_700_000_000,
    lastSeen: 1_700_000_060,
    detectionIds: ['a', 'b', 'c', 'd', 'e'],
  };
  let ex = new Exporter(db, [spec]);
  assert.equal(ex.offerIncidents([inc]), 1);
  assert.equal((await ex.drain(10_000))[0]!.pending, 0);
  await ex.stop();
  ex = new Exporter(db, [spec]);
  assert.equal(ex.offerIncidents([inc]), 0, 'the store remembers it was sent');
  assert.equal(ex.offerIncidents([{ ...inc, status: 'contained' }]), 1);
  assert.equal((await ex.drain(10_000))[0]!.pending, 0);
  await ex.stop();
  db.close();
  const until = Date.now() + 10_000;
  let got = rs.received().filter((m) => (eventIdOf(m) ?? '').startsWith(`inc-i${n}-`));
  while (got.length < 2 && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 100));
    got = rs.received().filter((m) => (eventIdOf(m) ?? '').startsWith(`inc-i${n}-`));
  }
  assert.deepEqual(got.map(eventIdOf), [`inc-i${n}-0`, `inc-i${n}-1`]);
  assert.ok(got.every((m) => m.msgid === 'incident' && m.pri === 16 * 8 + 2));
  const doc = JSON.parse(got[1]!.msg);
  assert.deepEqual(doc.threat.technique.id, ['T0846', 'T0855', 'T0836']);
  assert.equal(doc.weir.status, 'contained');
  assert.deepEqual(doc.weir.detection_ids, ['a', 'b', 'c', 'd', 'e']);
});
