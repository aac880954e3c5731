// HART-IP against the crafted sessions of test/fixtures-gen/hartip-session.ts (fixtures/hartip-session.pcap): every
// message agrees with tshark's hart_ip dissector, command 0 replies identify the field device, and re-ranging or
// resetting a transmitter is reported as the engineering operation it is.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { readCaptureSync } from '../../src/capture/source.js';
import { DissectPipeline } from '../../src/dissect/pipeline.js';
import { functionCategory, protocolDescriptor } from '../../src/dissect/registry.js';
import type { Message } from '../../src/dissect/message.js';
import { learnThenDetect } from '../../bench/detect.js';
import { hartipSession } from '../fixtures-gen/hartip-session.js';
import { repoRoot } from '../helpers/paths.js';
import { pduContext } from '../helpers/pdu-context.js';
import { compareFuncs, loadSpecs, tsharkFuncs, weirFuncs } from './tshark-compare.js';
import { rng } from '../helpers/rng.js';

const FIXTURE = path.join(repoRoot, 'fixtures', 'hartip-session.pcap');

function messages(): Message[] {
  const out: Message[] = [];
  const p = new DissectPipeline({ onMessage: (m) => void out.push({ ...m }) });
  readCaptureSync(FIXTURE, (f) => p.push(f));
  return out.filter((m) => m.protocol === 'hartip');
}

test('the shipped HART-IP fixture is what the generator writes', async () => {
  const { readFileSync } = await import('node:fs');
  assert.ok(
    readFileSync(FIXTURE).equals(hartipSession()),
    'run node dist/test/fixtures-gen/write.js',
  );
});

test('every HART-IP message agrees with tshark (command or session message), frame by frame', async () => {
  const spec = (await loadSpecs()).find((s) => s.protocol === 'hartip')!;
  const ours = await weirFuncs(FIXTURE);
  const theirs = await tsharkFuncs(FIXTURE, spec);
  const { total, diff: off } = compareFuncs(ours, theirs, 'hartip');
  assert.equal(total, 27);
  assert.deepEqual(off, []);
  assert.equal(
    [...ours.keys()].filter((k) => k.endsWith('|hartip')).length,
    theirs.size,
    'the same frames',
  );
});

test('HART-IP: identity from command 0, process values, writes, error codes and a bad check byte', () => {
  const ms = messages();
  const ids = ms.filter((m) => m.identity !== null);
  assert.deepEqual(
    ids.map((m) => [m.srcIp, m.identity!.vendor, m.identity!.model, m.identity!.serial]),
    [['10.50.0.20', 'HART manufacturer 0x0026', 'device type 0x2657 rev 10', '662316']],
    'only the HART-IP server itself (polling address 0) is an IP asset',
  );
  assert.equal(ids[0]!.fields!.hart_revision, 7);
  // The HART 5 device behind the gateway at polling address 1: its identity stays in the fields.
  const sub = ms.find((m) => m.func === 0 && m.role === 'response' && m.unit === 1)!;
  assert.equal(sub.identity, null);
  assert.equal(sub.fields!.manufacturer_id, 0x11);
  assert.equal(sub.fields!.device_type, 0x113c);
  assert.equal(sub.fields!.device_id, 1234);
  const dyn = ms.find((m) => m.func === 3 && m.role === 'response')!;
  assert.deepEqual(
    dyn.values!.map((v) => Math.round(v * 10) / 10),
    [12.5, 53.1, 21.4, 0, 0],
  );
  assert.equal(dyn.unit, 0x0a1b2c, 'long address: the device id');
  const range = ms.find((m) => m.func === 35 && m.role === 'request')!;
  assert.equal(range.write, true);
  assert.deepEqual(range.values, [250, 0]);
  assert.equal(functionCategory(range), 'config');
  assert.equal(functionCategory(ms.find((m) => m.func === 0)!), 'identity');
  assert.equal(functionCategory(ms.find((m) => m.func === 0x10000)!), 'session');
  assert.equal(ms.find((m) => m.func === 48 && m.role === 'response')!.exception, 32);
  const bad = ms.filter((m) => m.anomaly !== null);
  assert.deepEqual(
    bad.map((m) => [m.frame, m.anomaly!.kind]),
    [[26, 'checksum_mismatch']],
  );
  assert.equal(ms.filter((m) => m.transport === 'tcp').length, 11);
});

test('re-ranging and resetting a transmitter are engineering operations the detector reports', () => {
  const ds = learnThenDetect(FIXTURE, 0).detections.filter((d) => d.protocol === 'hartip');
  const types = ds.map((d) => `${d.type} ${d.severity}`);
  assert.ok(types.includes('config_change high'), types.join('; '));
  assert.ok(types.includes('device_restart critical'), types.join('; '));
  const change = ds.find((d) => d.type === 'config_change')!;
  assert.equal(change.src, '10.50.0.10');
  assert.match(change.explanation, /range/);
});

test('hostile HART-IP datagrams and streams give anomalies, never a crash', () => {
  const d = protocolDescriptor('hartip')!;
  const ctx = pduContext();
  const r = rng(5094);
  const seeds: Uint8Array[] = [];
  // Random bodies behind a plausible header, so the PDU walker sees every delimiter and byte count.
  for (let i = 0; i < 20000; i++) {
    const n = 8 + r(40);
    const b = new Uint8Array(n);
    for (let k = 0; k < n; k++) b[k] = r(256);
    b[0] = 1;
    b[1] = r(2);
    b[2] = r(5);
    b[6] = 0;
    b[7] = r(3) === 0 ? r(256) : n;
    seeds.push(b);
    const out: Message[] = [];
    d.datagram!.dissect(b, 0, n, ctx, true, out);
    const len = d.stream!.pduLength(b, 0, n);
    if (len > 0 && len <= n) d.stream!.dissect(b, 0, len, ctx, false, out, d.stream!.newState());
    for (const m of out)
      if (m.anomaly !== null) assert.ok(d.anomalies.includes(m.anomaly.kind), m.anomaly.kind);
  }
  assert.equal(seeds.length, 20000);
});
