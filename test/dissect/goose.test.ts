// IEC 61850 GOOSE: every header and goosePdu field checked against tshark, frame by frame, on the real captures
// and on crafted frames (802.1Q tagged and untagged); the sequence detector on normal and forged publications;
// hostile bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readCaptureSync } from '../../src/capture/source.js';
import { DissectPipeline } from '../../src/dissect/pipeline.js';
import type { Message } from '../../src/dissect/message.js';
import { goose } from '../../src/dissect/protocols/goose.js';
import { techniquesFor } from '../../src/detect/attack-map.js';
import {
  svStream,
  ATTACK_KINDS,
  gooseAttacks,
  gooseFrame,
  gooseNormal,
} from '../fixtures-gen/goose-frames.js';
import { detectFile } from '../detect/synthetic.js';
import { pcap } from '../fixtures-gen/pcap-writer.js';
import { sharedCapture } from '../helpers/paths.js';
import { pduContext } from '../helpers/pdu-context.js';
import { rng } from '../helpers/rng.js';

function gooseOf(file: string): Message[] {
  const out: Message[] = [];
  const p = new DissectPipeline({
    onMessage: (m) => void (m.protocol === 'goose' && out.push({ ...m, fields: { ...m.fields } })),
  });
  readCaptureSync(file, (f) => p.push(f));
  return out;
}

const FIELDS = [
  'goose.appid',
  'goose.gocbRef',
  'goose.timeAllowedtoLive',
  'goose.datSet',
  'goose.goID',
  'goose.stNum',
  'goose.sqNum',
  'goose.simulation',
  'goose.confRev',
  'goose.ndsCom',
  'goose.numDatSetEntries',
  'goose.reserve1.s_bit',
];

/** tshark's view of each GOOSE frame, in Weir's field names and types. */
function tsharkGoose(file: string): Map<number, Record<string, unknown>> {
  const out = execFileSync(
    'tshark',
    [
      '-r',
      file,
      '-n',
      '-Y',
      'goose',
      '-T',
      'fields',
      '-e',
      'frame.number',
      ...FIELDS.flatMap((f) => ['-e', f]),
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const byFrame = new Map<number, Record<string, unknown>>();
  const bool = (v: string) => v === '1' || v === 'True';
  for (const line of out.split('\n')) {
    if (!line) continue;
    const [f, appid, gocb, tal, ds, goId, st, sq, test, conf, nds, n, sbit] = line.split('\t');
    byFrame.set(Number(f), {
      appid: Number(appid),
      gocb_ref: gocb,
      time_allowed_to_live: Number(tal),
      dat_set: ds,
      ...(goId ? { go_id: goId } : {}),
      st_num: Number(st),
      sq_num: Number(sq),
      test: bool(test!),
      conf_rev: Number(conf),
      nds_com: bool(nds!),
      num_dat_set_entries: Number(n),
      simulation_bit: bool(sbit!),
    });
  }
  return byFrame;
}

function compare(file: string): { frames: number; diff: string[] } {
  const theirs = tsharkGoose(file);
  const ours = gooseOf(file);
  const diff: string[] = [];
  for (const m of ours) {
    const s = theirs.get(m.frame);
    if (s === undefined) {
      diff.push(`frame ${m.frame}: tshark has no GOOSE`);
      continue;
    }
    const w = Object.fromEntries(Object.keys(s).map((k) => [k, m.fields?.[k]]));
    try {
      assert.deepEqual(w, s);
    } catch {
      diff.push(`frame ${m.frame}: weir ${JSON.stringify(w)} tshark ${JSON.stringify(s)}`);
    }
  }
  if (theirs.size !== ours.length) diff.push(`tshark ${theirs.size} frames, weir ${ours.length}`);
  return { frames: ours.length, diff };
}

function withPcap<T>(bytes: Buffer, f: (file: string) => T): T {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-goose-'));
  try {
    const file = path.join(dir, 'goose.pcap');
    writeFileSync(file, bytes);
    return f(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('GOOSE: every field of the real captures agrees with tshark', () => {
  let frames = 0;
  for (const rel of [
    'iti/IEC61850__GOOSE__GOOSE.pcap',
    'iti/IEC61850__Sample_File_MMS_and_GOOSE.pcap',
  ]) {
    const file = sharedCapture(rel);
    if (file === null) return; // skipped outside CI; sharedCapture throws under CI=true
    const r = compare(file);
    assert.deepEqual(r.diff, [], rel);
    frames += r.frames;
  }
  assert.ok(frames >= 40, `${frames} GOOSE frames compared`);
});

test('GOOSE: crafted frames (tagged, untagged, test and simulation flags) agree with tshark', () => {
  for (const bytes of [gooseNormal(), gooseAttacks()]) {
    const r = withPcap(bytes, compare);
    assert.deepEqual(r.diff, []);
    assert.ok(r.frames >= 10);
  }
  const sim = withPcap(
    pcap([gooseFrame({ st: 1, sq: 0, trip: true, t: 1_767_225_600, simulation: true })]),
    (file) => {
      const r = compare(file);
      assert.deepEqual(r.diff, []);
      return gooseOf(file)[0]!;
    },
  );
  assert.equal(sim.fields?.simulation_bit, true);
  assert.equal(sim.unit, 0x3001);
  assert.deepEqual(sim.targets, [{ space: 'IED1PROT/LLN0$TripDs', start: 0, count: 2 }]);
  assert.deepEqual(sim.values, [1, 0]);
});

test('GOOSE detector: normal retransmissions, a trip and a restart raise nothing', () => {
  const found = withPcap(gooseNormal(), detectFile).filter((d) => d.protocol === 'goose');
  assert.deepEqual(found, []);
});

test('GOOSE detector: each forgery once — data without stNum, duplicate sqNum, stNum without data, stNum jump, replayed stNum, test flag', () => {
  const found = withPcap(gooseAttacks(), detectFile).filter((d) => d.protocol === 'goose');
  const kinds = found.sort((a, b) => a.ts - b.ts).map((d) => d.evidence.fields.anomaly as string);
  assert.deepEqual(kinds, [...ATTACK_KINDS]);
  const jump = found.find((d) => d.evidence.fields.anomaly === 'st_jump')!;
  assert.equal(jump.type, 'goose_sequence');
  assert.equal(jump.severity, 'high');
  assert.equal(jump.evidence.fields.jump, 41);
  assert.deepEqual(techniquesFor(jump), ['T0855', 'T0856']);
  const test = found.find((d) => d.type === 'goose_test_mode')!;
  assert.deepEqual(techniquesFor(test), ['T0803', 'T0804']);
  assert.match(test.explanation, /test flag/);
});

test('GOOSE detector: the real captures raise no sequence alarm', () => {
  for (const rel of [
    'iti/IEC61850__GOOSE__GOOSE.pcap',
    'iti/IEC61850__Sample_File_MMS_and_GOOSE.pcap',
  ]) {
    const file = sharedCapture(rel);
    if (file === null) return;
    const found = detectFile(file).filter((d) => d.protocol === 'goose');
    assert.deepEqual(
      found.map((d) => d.explanation),
      [],
      rel,
    );
  }
});

test('GOOSE: mutated and truncated frames never throw', () => {
  const base = [
    gooseFrame({ st: 3, sq: 9, trip: true, t: 1_767_225_600, vlan: null }).subarray(14),
  ];
  const r = rng(0xbeef);
  const ctx = pduContext();
  const out: Message[] = [];
  let anomalies = 0;
  for (let i = 0; i < 20_000; i++) {
    const b = Uint8Array.from(base[0]!);
    const k = r(3);
    if (k === 0) {
      for (let j = 0; j < 1 + r(4); j++) b[r(b.length)] ^= 1 << r(8);
    } else if (k === 1) {
      for (let j = 0; j < b.length; j++) if (r(6) === 0) b[j] = r(256);
    }
    const n = k === 2 ? r(b.length + 1) : b.length;
    out.length = 0;
    goose.dissect(b, 0, n, ctx, out);
    assert.equal(out.length, 1);
    if (out[0]!.anomaly) anomalies++;
  }
  assert.ok(anomalies > 0);
});

test('SV: svID, smpCnt, confRev, smpSynch and the simulation bit agree with tshark', () => {
  const rows = withPcap(svStream(), (file) => {
    const out = execFileSync(
      'tshark',
      ['-r', file, '-n', '-Y', 'sv', '-T', 'fields', '-e', 'frame.number', '-e', 'sv.appid'].concat(
        ['-e', 'sv.svID', '-e', 'sv.smpCnt', '-e', 'sv.confRev', '-e', 'sv.smpSynch'],
      ),
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
    );
    const theirs = out
      .trim()
      .split('\n')
      .map((l) => l.split('\t'))
      .map(([f, a, id, c, r, s]) => [Number(f), Number(a), id, Number(c), Number(r), Number(s)]);
    const ms: Message[] = [];
    const p = new DissectPipeline({
      onMessage: (m) => void (m.protocol === 'sv' && ms.push({ ...m })),
    });
    readCaptureSync(file, (f) => p.push(f));
    const ours = ms.map((m) => [
      m.frame,
      m.unit,
      m.fields?.sv_id,
      m.fields?.smp_cnt,
      m.fields?.conf_rev,
      m.fields?.smp_synch,
    ]);
    return { theirs, ours, last: ms[ms.length - 1]! };
  });
  assert.equal(rows.ours.length, 5);
  assert.deepEqual(rows.ours, rows.theirs);
  assert.equal(rows.last.fields?.simulation_bit, true);
  assert.deepEqual(rows.last.targets, [{ space: 'MU01_SV', start: 0, count: 1 }]);
});
