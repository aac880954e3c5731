// The work of one PDU is bounded by its length, in every stream dissector of the registry (review 14, G1: an
// OPC UA array of Null with a count of 2^31 cost 20 s of the gateway's event loop for 77 bytes). Real PDUs from
// every capture are framed as the dissector frames them, then each count or length a field could hold is set to
// its extremes at every byte offset; every dissect must finish within a bound no linear walk of a PDU comes near.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readCaptureSync } from '../../src/capture/source.js';
import { decodeFrame } from '../../src/dissect/link.js';
import { newPacket } from '../../src/dissect/packet.js';
import { PROTOCOLS, gatewayDissector } from '../../src/dissect/registry.js';
import type { StreamDissector } from '../../src/dissect/protocol.js';
import type { Message } from '../../src/dissect/message.js';
import { fixtureCaptures, sharedCaptures } from '../helpers/paths.js';
import { pduContext } from '../helpers/pdu-context.js';
import { c37118Session } from '../fixtures-gen/c37118-session.js';
import { dnp3Session } from '../fixtures-gen/dnp3-frames.js';
import { enipSession } from '../fixtures-gen/enip-session.js';
import { mmsSession } from '../fixtures-gen/mms-session.js';
import { slmpSession } from '../fixtures-gen/slmp-session.js';
import { umasSession } from '../fixtures-gen/umas-session.js';

/**
 * Extremes of 1-, 2- and 4-byte counts in either byte order (int32 max and -1/-2 as lengths, 0xffff, 0xff), and
 * a type byte with an array flag before a huge count (an OPC UA Variant array of Null, review 14 G1).
 */
const EXTREMES = [
  [0x80, 0xff, 0xff, 0xff, 0x7f],
  [0xff],
  [0x00],
  [0xff, 0xff, 0xff, 0x7f],
  [0x7f, 0xff, 0xff, 0xff],
  [0xff, 0xff, 0xff, 0xff],
  [0xfe, 0xff, 0xff, 0xff],
  [0xff, 0xff, 0x00, 0x00],
  [0x00, 0x00, 0xff, 0xff],
];
/**
 * Seed PDUs kept per dissector (one per direction and length, which tells most PDU kinds apart) and offsets
 * mutated per seed: enough to reach every field of the seeds.
 */
const SEEDS_PER_DISSECTOR = 60;
const MAX_OFFSETS = 600;
/**
 * One dissect of a PDU of at most a few kB takes microseconds; a walk that ran a hostile count instead of the
 * bytes would take seconds. 250 ms leaves room for a loaded CI machine and none for such a walk.
 */
const BOUND_MS = 250;

interface Seed {
  b: Uint8Array;
  toServer: boolean;
}

/** Sessions built from the manuals, for the protocols no recorded capture holds. */
function generatedCaptures(dir: string): string[] {
  const sessions = {
    c37118Session,
    dnp3Session,
    enipSession,
    mmsSession,
    slmpSession,
    umasSession,
  };
  return Object.entries(sessions).map(([name, make]) => {
    const f = path.join(dir, `${name}.pcap`);
    writeFileSync(f, make());
    return f;
  });
}

/** Whole PDUs per dissector, framed by its own pduLength from the TCP payloads on its ports. */
function seeds(
  dissectors: Map<StreamDissector, number[]>,
  files: string[],
): Map<StreamDissector, Seed[]> {
  const out = new Map<StreamDissector, Seed[]>([...dissectors.keys()].map((d) => [d, []]));
  const shapes = new Set<string>();
  const pkt = newPacket();
  for (const f of files)
    readCaptureSync(f, (fr) => {
      decodeFrame(fr, pkt);
      if (pkt.payloadLength === 0 || pkt.ipProto !== 6) return;
      for (const [d, ports] of dissectors) {
        const toServer = ports.includes(pkt.dstPort);
        if (!toServer && !ports.includes(pkt.srcPort)) continue;
        const list = out.get(d)!;
        if (list.length >= SEEDS_PER_DISSECTOR) continue;
        const b = pkt.data.subarray(pkt.payloadOffset, pkt.payloadOffset + pkt.payloadLength);
        for (let off = 0; off < b.length && list.length < SEEDS_PER_DISSECTOR; ) {
          const n = d.pduLength(b, off, b.length - off);
          if (n <= 0 || off + n > b.length) break;
          const shape = `${d.protocol} ${toServer} ${n} ${b[off + 7]}`;
          if (!shapes.has(shape)) list.push({ b: b.slice(off, off + n), toServer });
          shapes.add(shape);
          off += n;
        }
      }
    });
  return out;
}

function dissectMs(d: StreamDissector, b: Uint8Array, toServer: boolean): number {
  const out: Message[] = [];
  const t0 = process.hrtime.bigint();
  d.dissect(b, 0, b.length, pduContext(), toServer, out, d.newState());
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

test('every stream dissector: extreme counts and lengths at every offset of real PDUs cost time bounded by the length', (t) => {
  const dissectors = new Map<StreamDissector, number[]>();
  for (const p of PROTOCOLS) {
    const ports = p.ports.tcp;
    if (ports.length === 0) continue;
    for (const d of [p.stream, gatewayDissector(p.name)])
      if (d !== undefined) dissectors.set(d, [...(dissectors.get(d) ?? []), ...ports]);
  }
  const slow: string[] = [];
  let mutants = 0;
  const seeded: string[] = [];
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-work-bound-'));
  const files = [...(sharedCaptures() ?? []), ...fixtureCaptures(), ...generatedCaptures(dir)];
  const bySeeds = seeds(dissectors, files);
  rmSync(dir, { recursive: true, force: true });
  for (const [d, list] of bySeeds) {
    if (list.length > 0) seeded.push(d.protocol);
    t.diagnostic(`${d.protocol}: ${list.length} seed PDUs`);
    // One slow finding per dissector is enough to fail, and a stall costs seconds: the rest is skipped.
    seeds: for (const s of list) {
      // Framing stays the dissector's own: the mutants keep the seed's length.
      for (let o = 0; o < Math.min(s.b.length, MAX_OFFSETS); o++)
        for (const x of EXTREMES) {
          const b = Uint8Array.from(s.b);
          for (let k = 0; k < x.length && o + k < b.length; k++) b[o + k] = x[k]!;
          mutants++;
          // A slow one is tried again: the machine, not the dissector, may have been busy.
          if (dissectMs(d, b, s.toServer) < BOUND_MS) continue;
          const ms = dissectMs(d, b, s.toServer);
          if (ms < BOUND_MS) continue;
          slow.push(
            `${d.protocol} ${s.toServer ? 'request' : 'response'} of ${b.length} bytes, [${x}] at ${o}: ${ms.toFixed(0)} ms`,
          );
          break seeds;
        }
    }
  }
  for (const p of [...dissectors.keys()].map((d) => d.protocol))
    assert.ok(seeded.includes(p), `${p} has seed PDUs (${seeded.join(',')})`);
  t.diagnostic(`${mutants} mutants`);
  assert.ok(mutants > 50_000, `${mutants} mutants`);
  assert.deepEqual(slow, []);
});
