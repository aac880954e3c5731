// Robustness: random and mutated input through every dissector, the link decoder, the pipeline and the
// capture parser. Bad input must give anomalies, never exceptions or hangs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readCaptureSync } from '../../src/capture/source.js';
import { CaptureParser } from '../../src/capture/parser.js';
import { decodeFrame } from '../../src/dissect/link.js';
import { newPacket } from '../../src/dissect/packet.js';
import { DissectPipeline } from '../../src/dissect/pipeline.js';
import { PROTOCOLS } from '../../src/dissect/registry.js';
import type { Message } from '../../src/dissect/message.js';
import type { Frame } from '../../src/capture/frame.js';
import { fixtureCaptures, sharedCaptures } from '../helpers/paths.js';
import { FragmentJoiner } from '../../src/dissect/fragments.js';
import { dt, fragments, plcStop, readVar, writeVar } from '../fixtures-gen/s7-fragments.js';
import { directOperate, segments } from '../fixtures-gen/dnp3-frames.js';
import { pduContext } from '../helpers/pdu-context.js';
import { rng } from '../helpers/rng.js';

const ctx = pduContext();

interface Seeds {
  byPort: Map<number, Uint8Array[]>;
  byEtherType: Map<number, Uint8Array[]>;
  frames: Frame[];
}

/** Real payloads and frames from every capture we have, as mutation seeds. */
function seeds(): Seeds {
  const files = [...(sharedCaptures() ?? []), ...fixtureCaptures()];
  const s: Seeds = { byPort: new Map(), byEtherType: new Map(), frames: [] };
  const pkt = newPacket();
  for (const f of files) {
    readCaptureSync(f, (fr) => {
      if (s.frames.length < 3000 && fr.index % 3 === 0)
        s.frames.push({ ...fr, data: fr.data.slice(fr.offset, fr.offset + fr.capLen), offset: 0 });
      decodeFrame(fr, pkt);
      if (pkt.payloadLength === 0) return;
      const payload = pkt.data.slice(pkt.payloadOffset, pkt.payloadOffset + pkt.payloadLength);
      const add = (m: Map<number, Uint8Array[]>, k: number) => {
        const l = m.get(k) ?? [];
        if (l.length < 200) l.push(payload);
        m.set(k, l);
      };
      if (pkt.ipVersion !== 0) {
        add(s.byPort, pkt.dstPort);
        add(s.byPort, pkt.srcPort);
      } else add(s.byEtherType, pkt.etherType);
    });
  }
  return s;
}

function mutate(r: (n: number) => number, base: Uint8Array): Uint8Array {
  const b = Uint8Array.from(base);
  switch (r(5)) {
    case 0:
      for (let i = 0, n = 1 + r(4); i < n && b.length; i++) b[r(b.length)] ^= 1 << r(8);
      return b;
    case 1:
      return b.subarray(0, r(b.length + 1));
    case 2: {
      // length-like fields set to extremes
      if (b.length < 2) return b;
      const i = r(b.length - 1);
      b[i] = r(2) ? 0xff : 0;
      b[i + 1] = r(2) ? 0xff : 0;
      return b;
    }
    case 3: {
      const extra = new Uint8Array(b.length + 1 + r(64));
      extra.set(b);
      for (let i = b.length; i < extra.length; i++) extra[i] = r(256);
      return extra;
    }
    default:
      for (let i = 0; i < b.length; i++) if (r(8) === 0) b[i] = r(256);
      return b;
  }
}

function random(r: (n: number) => number, max: number): Uint8Array {
  const b = new Uint8Array(r(max));
  for (let i = 0; i < b.length; i++) b[i] = r(256);
  return b;
}

const CASES = 50_000;

test('every dissector survives random and mutated PDUs', () => {
  const s = seeds();
  const r = rng(0xc0ffee);
  const out: Message[] = [];
  const all = [
    ...PROTOCOLS.flatMap(({ stream: d, ports }) => (d ? [{ d, ports: ports.tcp }] : [])).map(
      ({ d, ports }) => ({
        name: `${d.protocol}/tcp`,
        seeds: ports.flatMap((p) => s.byPort.get(p) ?? []),
        run: (b: Uint8Array) => {
          const n = d.pduLength(b, 0, b.length);
          assert.ok(Number.isInteger(n) && n >= -1, `${d.protocol} pduLength returned ${n}`);
          // The reassembler hands over exactly the PDUs pduLength framed.
          if (n > 0 && n <= b.length) d.dissect(b, 0, n, ctx, r(2) === 0, out, d.newState());
        },
      }),
    ),
    ...PROTOCOLS.flatMap(({ datagram: d, ports }) => (d ? [{ d, ports: ports.udp }] : [])).map(
      ({ d, ports }) => ({
        name: `${d.protocol}/udp`,
        seeds: ports.flatMap((p) => s.byPort.get(p) ?? []),
        run: (b: Uint8Array) =>
          d.dissect(b, 0, b.length, { ...ctx, transport: 'udp', dstPort: ports[0]! }, true, out),
      }),
    ),
    ...PROTOCOLS.flatMap(({ link: d, etherTypes }) => (d ? [{ d, etherTypes }] : [])).map(
      ({ d, etherTypes }) => ({
        name: `${d.protocol}/l2`,
        seeds: etherTypes.flatMap((t) => s.byEtherType.get(t) ?? []),
        run: (b: Uint8Array) => d.dissect(b, 0, b.length, { ...ctx, transport: 'l2' }, out),
      }),
    ),
  ];
  for (const d of all) {
    for (let i = 0; i < CASES; i++) {
      const input =
        d.seeds.length && i % 4 !== 0 ? mutate(r, d.seeds[r(d.seeds.length)]!) : random(r, 300);
      try {
        d.run(input);
      } catch (e) {
        assert.fail(
          `${d.name} threw on case ${i} (${Buffer.from(input).toString('hex')}): ${(e as Error).stack}`,
        );
      }
      for (const m of out)
        assert.ok(
          Number.isInteger(m.func),
          `${d.name}: func ${m.func} on ${Buffer.from(input).toString('hex')}`,
        );
      out.length = 0;
    }
  }
});

/** Segmented units (COTP DT without EOT, DNP3 transport segments) as seeds for the stateful paths. */
const FRAGMENT_SEEDS: Record<string, Uint8Array[]> = {
  s7comm: [
    ...fragments(plcStop(1), [7, 16]),
    ...fragments(writeVar(2), [3, 14, 20]),
    dt(readVar(3)),
    dt(Buffer.alloc(0), false),
    Buffer.from('0300001611e00000000100c0010ac1020100c2020102', 'hex'),
    dt(Buffer.from([0x72, 1, 0, 9, 0x31]), false),
  ],
  dnp3: [
    ...segments(10, 1, directOperate([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]), 60),
    ...segments(10, 1, Buffer.from([0xc1, 1, 60, 2, 6])),
  ],
};

/** Every fragment joiner in a dissector's per-direction state is within its bounds. */
function assertBounded(name: string, state: unknown): void {
  if (state === null || typeof state !== 'object') return;
  for (const v of Object.values(state)) {
    const j = v instanceof FragmentJoiner ? v : (v as { joiner?: unknown } | undefined)?.joiner;
    if (j instanceof FragmentJoiner)
      assert.ok(
        j.size <= j.maxBytes && j.count <= j.maxFragments,
        `${name}: joiner holds ${j.size} bytes in ${j.count} fragments`,
      );
  }
}

test('stream dissectors survive long runs of whole, fragmented and mutated PDUs through one state per direction', () => {
  const s = seeds();
  const r = rng(0xf4a9);
  const out: Message[] = [];
  for (const { stream: d, ports } of PROTOCOLS) {
    if (d === undefined) continue;
    const pool = [
      ...ports.tcp.flatMap((p) => s.byPort.get(p) ?? []),
      ...(FRAGMENT_SEEDS[d.protocol] ?? []),
    ];
    const states = [d.newState(), d.newState()];
    let partial = 0,
      joined = 0;
    for (let i = 0; i < CASES; i++) {
      const pick = pool.length ? pool[r(pool.length)]! : random(r, 300);
      const input = i % 4 === 0 ? random(r, 300) : r(2) === 0 ? pick : mutate(r, pick);
      const dir = r(2);
      // Frame the input the way the reassembler does and dissect each PDU in order.
      for (let off = 0; off < input.length; ) {
        const n = d.pduLength(input, off, input.length - off);
        if (n <= 0 || off + n > input.length) break;
        try {
          if (d.partial?.(input, off, n)) partial++;
          d.dissect(input, off, n, ctx, dir === 0, out, states[dir]);
        } catch (e) {
          assert.fail(
            `${d.protocol} threw on case ${i} (${Buffer.from(input).toString('hex')}): ${(e as Error).stack}`,
          );
        }
        off += n;
      }
      for (const m of out) {
        assert.ok(Number.isInteger(m.func), `${d.protocol}: func ${m.func}`);
        if (m.fields?.cotp_fragments !== undefined) joined++;
      }
      out.length = 0;
      assertBounded(d.protocol, states[dir]!);
    }
    if (d.partial && FRAGMENT_SEEDS[d.protocol])
      assert.ok(partial > 0, `${d.protocol}: no fragment was fed`);
    if (d.protocol === 's7comm') assert.ok(joined > 0, 's7comm: no segmented PDU was joined');
  }
});

test('the link decoder and the whole pipeline survive mutated frames', () => {
  const s = seeds();
  const r = rng(42);
  const pkt = newPacket();
  const p = new DissectPipeline({ onMessage: () => undefined });
  let n = 0;
  for (let i = 0; i < CASES * 2; i++) {
    const base = s.frames[r(s.frames.length)]!;
    const data = mutate(r, base.data);
    const fr: Frame = {
      ...base,
      index: ++n,
      data,
      offset: 0,
      capLen: data.length,
      linkType: r(20) === 0 ? [0, 101, 113, 276, 228][r(5)]! : base.linkType,
    };
    decodeFrame(fr, pkt);
    p.push(fr);
  }
  assert.equal(p.stats.frames, CASES * 2);
});

test('the capture parser survives corrupted files and reports where it stopped', () => {
  const files = [...(sharedCaptures() ?? []), ...fixtureCaptures()];
  const r = rng(7);
  for (const f of files) {
    const bytes = readFileSync(f);
    for (let i = 0; i < 300; i++) {
      const b = mutate(r, bytes.subarray(0, Math.min(bytes.length, 4096 + r(8192))));
      const parser = new CaptureParser(() => undefined);
      for (let off = 0; off < b.length; ) {
        const k = 1 + r(700);
        parser.feed(b.subarray(off, off + k));
        off += k;
      }
      const summary = parser.end();
      if (summary.error)
        assert.ok(summary.error.byteOffset >= 0 && summary.error.reason.length > 0);
    }
  }
});

test('Modbus UMAS (FC 90) requests and answers survive mutation in both directions', () => {
  const umas = (fn: number[], len = fn.length + 1) =>
    Uint8Array.from([0, 1, 0, 0, len >> 8, len & 255, 1, 0x5a, ...fn]);
  const name = [...Buffer.from('BMX P34 2020')];
  const bases = [
    umas([0x00, 0x41]),
    umas([0xc7, 0x31, 0x00, 0x01, 0x01, 0x00, 0x04, 0x00, 1, 2, 3, 4]),
    umas([0x00, 0xfd, 0x81]),
    umas([
      0x00,
      0xfe,
      1,
      0,
      0x78,
      0x56,
      0x34,
      0x12,
      0x80,
      1,
      ...new Array(14).fill(3),
      12,
      ...name,
    ]),
  ];
  const r = rng(0x5a5a);
  const out: Message[] = [];
  const modbus = PROTOCOLS.find((p) => p.name === 'modbus')!.stream!;
  for (let i = 0; i < CASES; i++) {
    const b = mutate(r, bases[r(bases.length)]!);
    // Keep the function byte 90 most of the time so the UMAS paths are the ones exercised.
    if (b.length > 7 && r(4) !== 0) b[7] = 0x5a;
    const n = modbus.pduLength(b, 0, b.length);
    if (n > 0 && n <= b.length) modbus.dissect(b, 0, n, ctx, r(2) === 0, out, null);
    out.length = 0;
  }
});
