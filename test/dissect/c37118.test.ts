// IEEE C37.118.2 synchrophasor: crafted PDC ↔ PMU frames (TCP 4712 commands, configuration, header, data; UDP
// 4713 data) checked against tshark's synphasor dissector; identity, categories, checksum and hostile bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readCaptureSync } from '../../src/capture/source.js';
import { DissectPipeline } from '../../src/dissect/pipeline.js';
import type { Message } from '../../src/dissect/message.js';
import { functionCategory } from '../../src/dissect/registry.js';
import { c37118Datagram, c37118Stream } from '../../src/dissect/protocols/c37118.js';
import { c37118Session, command, config2, data } from '../fixtures-gen/c37118-session.js';
import { compareFuncs, tsharkFuncs, weirFuncs } from './tshark-compare.js';
import oracle from './oracle/c37118.js';
import { pduContext } from '../helpers/pdu-context.js';
import { discoverFiles, assetOf } from '../helpers/discover.js';
import { rng } from '../helpers/rng.js';

async function inSession<T>(f: (file: string) => T | Promise<T>): Promise<T> {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-c37-'));
  const file = path.join(dir, 'c37.pcap');
  writeFileSync(file, c37118Session());
  try {
    return await f(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function messagesOf(file: string): Message[] {
  const out: Message[] = [];
  const p = new DissectPipeline({ onMessage: (m) => void out.push({ ...m }) });
  readCaptureSync(file, (f) => p.push(f));
  return out;
}

test('C37.118: every frame type and command agrees with tshark (TCP 4712 and UDP 4713)', async () => {
  const { diff, total } = await inSession(async (file) => {
    const ours = await weirFuncs(file),
      theirs = await tsharkFuncs(file, oracle);
    return compareFuncs(ours, theirs, 'c37118');
  });
  assert.deepEqual(diff, []);
  assert.equal(total, 11);
});

test('C37.118: IDCODE, station identity, commands as control, configuration requests as reads', async () => {
  const ms = await inSession(messagesOf);
  assert.ok(ms.every((m) => m.protocol === 'c37118' && m.anomaly === null && m.unit === 7));
  const cfg = ms.find((m) => m.funcName === 'config2')!;
  assert.deepEqual(cfg.identity, { hostname: 'SUB1 BAY3 PMU', deviceType: 'PMU' });
  assert.equal(cfg.fields?.data_rate, 30);
  assert.equal(cfg.fields?.phasors, 2);
  const off = ms.find((m) => m.funcName === 'turn_off_transmission')!;
  assert.equal(off.role, 'request');
  assert.equal(off.write, true);
  assert.equal(functionCategory(off), 'control');
  assert.equal(functionCategory(ms.find((m) => m.funcName === 'turn_on_transmission')!), 'control');
  assert.equal(functionCategory(ms.find((m) => m.funcName === 'send_config2')!), 'read');
  const udpData = ms.filter((m) => m.transport === 'udp');
  assert.equal(udpData.length, 3);
  assert.ok(udpData.every((m) => m.role === 'unsolicited' && m.funcName === 'data'));
  const snap = await inSession((f) => discoverFiles(f));
  const pmu = assetOf(snap, '10.37.0.20');
  assert.ok(pmu.hostnames.includes('SUB1 BAY3 PMU'), pmu.hostnames.join(','));
  assert.equal(pmu.identity.deviceType, 'PMU');
  assert.equal(pmu.role, 'rtu', pmu.roleReasons.join('; '));
});

test('C37.118: a corrupted CHK, a bad SYNC and a short FRAMESIZE are anomalies', () => {
  const ctx = pduContext();
  const out: Message[] = [];
  const bad = Buffer.from(data(1));
  bad[15] ^= 0x40;
  c37118Datagram.dissect(bad, 0, bad.length, ctx, false, out);
  assert.equal(out[0]!.anomaly?.kind, 'checksum');
  const cmd = command(1);
  assert.equal(c37118Stream.pduLength(Buffer.from([0x55, 1, 2, 3]), 0, 4), -1);
  assert.equal(c37118Stream.pduLength(cmd, 0, 3), 0);
  assert.equal(c37118Stream.pduLength(cmd, 0, cmd.length), 18);
  const short = Buffer.from(cmd);
  short.writeUInt16BE(12, 2);
  assert.equal(c37118Stream.pduLength(short, 0, short.length), -1);
  // Resynchronise on the next SYNC after garbage.
  const joined = Buffer.concat([Buffer.from([1, 2, 3]), cmd]);
  assert.equal(c37118Stream.resync!(joined, 0, joined.length), 3);
});

test('C37.118: mutated and truncated frames never throw', () => {
  const seeds = [command(2), config2(), data(3)];
  const r = rng(0xc37);
  const ctx = pduContext();
  const out: Message[] = [];
  let anomalies = 0;
  for (let i = 0; i < 20_000; i++) {
    const b = Uint8Array.from(seeds[r(seeds.length)]!);
    const k = r(3);
    if (k === 0) {
      for (let j = 0; j < 1 + r(4); j++) b[r(b.length)] ^= 1 << r(8);
    } else if (k === 1) {
      for (let j = 0; j < b.length; j++) if (r(8) === 0) b[j] = r(256);
    }
    const n = k === 2 ? r(b.length + 1) : b.length;
    out.length = 0;
    const framed = c37118Stream.pduLength(b, 0, n);
    if (framed > 0 && framed <= n) c37118Stream.dissect(b, 0, framed, ctx, true, out, null);
    c37118Datagram.dissect(b, 0, n, ctx, false, out);
    for (const m of out) if (m.anomaly) anomalies++;
  }
  assert.ok(anomalies > 0);
});
