// Omron FINS and MELSEC SLMP: FINS against tshark's omron dissector (the crafted fixtures/fins-session.pcap and the
// real ITI capture), identity from Controller Data Read and Read CPU Model, and RUN/STOP as the engineering
// operations the detector reports and the inventory's PLC mode follows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { learnThenDetect } from '../../bench/detect.js';
import { functionCategory, protocolDescriptor } from '../../src/dissect/registry.js';
import type { Message } from '../../src/dissect/message.js';
import { finsSession } from '../fixtures-gen/fins-session.js';
import { slmpSession } from '../fixtures-gen/slmp-session.js';
import { assetOf, discoverFiles } from '../helpers/discover.js';
import { repoRoot, sharedCapture } from '../helpers/paths.js';
import { pduContext } from '../helpers/pdu-context.js';
import { compareFuncs, loadSpecs, tsharkFuncs, weirFuncs } from './tshark-compare.js';
import { rng } from '../helpers/rng.js';

const FINS = path.join(repoRoot, 'fixtures', 'fins-session.pcap');

test('the shipped FINS fixture is what the generator writes', () => {
  assert.ok(readFileSync(FINS).equals(finsSession()), 'run node dist/test/fixtures-gen/write.js');
});

async function agree(file: string): Promise<{ total: number; off: string[] }> {
  const spec = (await loadSpecs()).find((s) => s.protocol === 'fins')!;
  const ours = await weirFuncs(file);
  const theirs = await tsharkFuncs(file, spec);
  const { total, diff: off } = compareFuncs(ours, theirs, 'fins');
  return { total, off };
}

test('FINS command codes agree with tshark on the crafted sessions and the ITI Omron capture', async (t) => {
  const crafted = await agree(FINS);
  assert.equal(crafted.total, 20);
  assert.deepEqual(crafted.off, []);
  const iti = sharedCapture('iti/omron__omron_test.pcap');
  if (iti === null) return t.skip('shared captures missing');
  const real = await agree(iti);
  assert.equal(real.total, 4);
  assert.deepEqual(real.off, []);
});

test('FINS: identity, memory targets and values, run/stop as engineering operations and PLC mode', async () => {
  const snap = await discoverFiles(FINS);
  const plc = assetOf(snap, '10.96.0.20');
  assert.equal(plc.identity.vendor, 'OMRON');
  assert.equal(plc.identity.model, 'CJ2M-CPU31');
  assert.equal(plc.identity.firmware, '02.01');
  assert.equal(plc.identity.plcMode, 'RUN', 'STOP, then RUN (the refused RUN is still a request)');
  const ds = learnThenDetect(FINS, 0).detections.filter((d) => d.protocol === 'fins');
  const types: string[] = ds.map((d) => d.type);
  for (const t of ['cpu_stop', 'cpu_start', 'program_upload', 'config_change'])
    assert.ok(types.includes(t), `${t} in ${types.join(',')}`);
  const stop = ds.find((d) => d.type === 'cpu_stop')!;
  assert.equal(stop.src, '10.96.0.30');
  assert.equal(stop.severity, 'critical');
});

test('FINS: a memory write carries its target and value; categories', () => {
  const d = protocolDescriptor('fins')!;
  const out: Message[] = [];
  // 80 00 02 | 00 14 00 | 00 0a 00 | SID 3 | 01 02 | D (0x82) 200.0, 1 word, 1500
  const frame = Uint8Array.from([
    0x80, 0, 2, 0, 20, 0, 0, 10, 0, 3, 0x01, 0x02, 0x82, 0, 200, 0, 0, 1, 0x05, 0xdc,
  ]);
  d.datagram!.dissect(frame, 0, frame.length, pduContext(), true, out);
  assert.equal(out.length, 1);
  const m = out[0]!;
  assert.equal(m.write, true);
  assert.deepEqual(m.targets, [{ space: 'D', start: 200, count: 1 }]);
  assert.deepEqual(m.values, [1500]);
  assert.equal(functionCategory(m), 'write');
  assert.equal(functionCategory({ ...m, func: 0x0402 }), 'control');
  assert.equal(functionCategory({ ...m, func: 0x0501 }), 'identity');
});

test('SLMP: CPU model identity, remote STOP and RUN reported and followed', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-slmp-'));
  try {
    const file = path.join(dir, 'slmp.pcap');
    writeFileSync(file, slmpSession());
    const snap = await discoverFiles(file);
    const plc = assetOf(snap, '10.57.0.20');
    assert.equal(plc.identity.vendor, 'Mitsubishi Electric');
    assert.equal(plc.identity.model, 'Q03UDVCPU');
    assert.equal(plc.identity.plcMode, 'RUN');
    const ds = learnThenDetect(file, 0).detections.filter((d) => d.protocol === 'slmp');
    const types = ds.map((d) => `${d.type}/${d.severity}`);
    assert.ok(types.includes('cpu_stop/critical'), types.join(','));
    assert.ok(types.includes('cpu_start/critical'), types.join(','));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('hostile FINS and SLMP bytes give anomalies, never a crash', () => {
  const r = rng(9600);
  for (const name of ['fins', 'slmp']) {
    const d = protocolDescriptor(name)!;
    for (let i = 0; i < 20000; i++) {
      const n = r(48);
      const b = new Uint8Array(n);
      for (let k = 0; k < n; k++) b[k] = r(256);
      if (n > 8 && r(2) === 0) {
        if (name === 'fins') b.set([0x46, 0x49, 0x4e, 0x53, 0, 0, 0, n - 8], 0);
        else b.set([r(2) ? 0x50 : 0xd0, 0, 0, 0xff, 0xff, 0x03, 0, n - 9, 0], 0);
      }
      const out: Message[] = [];
      d.datagram!.dissect(b, 0, n, pduContext(), r(2) === 0, out);
      const len = d.stream!.pduLength(b, 0, n);
      if (len > 0 && len <= n) d.stream!.dissect(b, 0, len, pduContext(), r(2) === 0, out, null);
      for (const m of out)
        if (m.anomaly !== null) assert.ok(d.anomalies.includes(m.anomaly.kind), m.anomaly.kind);
    }
  }
});
