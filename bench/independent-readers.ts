// The ceiling of "independent readers" for `--workers 2` (issue 18), measured without building them: N worker
// threads that each read the capture themselves (own readSync, own buffer) and run the real one-thread pipeline
// (DissectPipeline + Inventory, or + DetectionEngine) on only the frames whose address pair they own, skipping
// the others after the raw IPv4 header and the pair hash (noting the server ends they show, as a shard must).
// Nothing is merged, so a real split can only cost more. Session 11 (wt-mc11) measured with it: 5M frames,
// one half alone costs 62-63% (discover) and 72-74% (detect) of the whole pass's process CPU.
//
// usage: node <launcher flags> dist/bench/independent-readers.js discover|detect|skip|read N FILE [BASELINE]
//   N = 0: on the main thread, no worker (PROTO_OF=k: only shard 0 of k, i.e. one half alone with k = 2);
//   N >= 1: N workers, shards 0..N-1 of N (or of PROTO_OF); skip: one worker owning nothing (read, raw header,
//   hash and server-end noting for every frame); read: the parser alone. PROTO_NOTE=0: no server-end noting.
// Prints JSON: wall s, process CPU s (user, sys), CPU s of the main thread, of V8's and libuv's helper threads,
// and per JS thread: CPU s in all, at start (modules loaded), setup (stages built), read-out, frames owned.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { readCaptureSync } from '../src/capture/source.js';
import type { Frame } from '../src/capture/frame.js';
import { DissectPipeline } from '../src/dissect/pipeline.js';
import { decodeFrame } from '../src/dissect/link.js';
import { newPacket } from '../src/dissect/packet.js';
import { Inventory } from '../src/discover/inventory.js';
import type { Baseline } from '../src/discover/baseline.js';
import { DetectionEngine } from '../src/detect/engine.js';
import { pairHash, pairHash4, RawIpv4, threadCpuSeconds } from '../src/discover/shard.js';
import { serverEndKey } from '../src/discover/edge-table.js';

interface Job {
  mode: string;
  me: number;
  n: number;
  file: string;
  baseline: string | undefined;
  note: boolean;
}

interface Done {
  tid: string;
  cpu: number;
  start: number;
  /** CPU seconds to build the stages (detect: the baseline read and parsed). */
  setup: number;
  readOut: number;
  own: number;
  frames: number;
}

function runShard(job: Job): Done {
  const start = threadCpuSeconds();
  const baseline =
    job.mode === 'detect' ? (JSON.parse(readFileSync(job.baseline!, 'utf8')) as Baseline) : null;
  const inv = job.mode === 'discover' ? new Inventory() : null;
  const eng = baseline !== null ? new DetectionEngine(baseline) : null;
  const p =
    inv !== null ? new DissectPipeline([inv]) : eng !== null ? new DissectPipeline([eng]) : null;
  const setup = threadCpuSeconds() - start;
  const raw = new RawIpv4();
  const pkt = newPacket();
  const { me, n } = job;
  const recent = new Float64Array(1 << 12).fill(-1);
  const known = new Set<number>();
  let own = 0;
  const note = (k: number): void => {
    if (k < 0) return;
    const h = (Math.imul((k / 65536) | 0, 0x9e3779b1) ^ (k & 0xffff)) >>> 20;
    if (recent[h] === k) return;
    recent[h] = k;
    if (known.has(k)) return;
    known.add(k);
    inv?.edgeBook?.noteServerKey(k);
    eng?.noteServerKey(k);
  };
  const sink =
    job.mode === 'read'
      ? (): void => undefined
      : (f: Frame): void => {
          let owner: number;
          if (raw.parse(f)) {
            owner = pairHash4(raw.src, raw.dst) % n;
            if (owner !== me) {
              if (job.note && !raw.fragment && (eng !== null || raw.fromHost))
                note(serverEndKey(raw.src, raw.dst, raw.proto, raw.srcPort, raw.dstPort));
              eng?.clock(f.ts);
              return;
            }
          } else {
            decodeFrame(f, pkt);
            owner = pkt.ipVersion === 0 ? 0 : pairHash(pkt) % n;
            if (owner !== me) {
              eng?.clock(f.ts);
              return;
            }
          }
          own++;
          p?.push(f);
        };
  const frames = readCaptureSync(job.file, sink).frames;
  const r0 = threadCpuSeconds();
  inv?.snapshot();
  eng?.finish();
  const readOut = threadCpuSeconds() - r0;
  const tid = readlinkSync('/proc/thread-self').split('/').pop()!;
  return { tid, cpu: threadCpuSeconds(), start, setup, readOut, own, frames };
}

if (!isMainThread) {
  parentPort!.postMessage(runShard(workerData as Job));
  // Alive until the main thread has read every thread's CPU time.
  parentPort!.once('message', () => parentPort!.close());
} else {
  const [mode, nArg, file, baseline] = process.argv.slice(2);
  const n = Number(nArg);
  if (!file || !['discover', 'detect', 'skip', 'read'].includes(mode!))
    throw new Error('usage: independent-readers discover|detect|skip|read N FILE [BASELINE]');
  const note = process.env.PROTO_NOTE !== '0';
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  const mainStart = threadCpuSeconds();
  let done: Done[];
  let bye!: () => void;
  const byeLater = new Promise<void>((r) => (bye = r));
  // PROTO_OF=k: only shard 0 of k (N = 0: on the main thread; N = 1: on one worker).
  const of = Number(process.env.PROTO_OF ?? (n === 0 ? 1 : n));
  if (n === 0) {
    done = [runShard({ mode: mode!, me: 0, n: of, file, baseline, note })];
  } else {
    done = await Promise.all(
      Array.from(
        { length: n },
        (_, me) =>
          new Promise<Done>((resolve, reject) => {
            // skip: shard n owns nothing (every frame skipped).
            const job: Job = {
              mode: mode === 'skip' ? 'discover' : mode!,
              me: mode === 'skip' ? of : me,
              n: of,
              file,
              baseline,
              note,
            };
            const w = new Worker(new URL(import.meta.url), { workerData: job });
            w.once('message', (d: Done) => {
              resolve(d);
              void byeLater.then(() => w.postMessage('bye'));
            });
            w.once('error', reject);
          }),
      ),
    );
  }
  const c = process.cpuUsage(c0);
  // CPU seconds of every thread of the process: the JS threads (main, workers) and the rest (V8's helpers, libuv).
  const js = new Set([String(process.pid), ...done.map((d) => d.tid)]);
  let helpers = 0;
  for (const t of readdirSync('/proc/self/task')) {
    if (js.has(t)) continue;
    try {
      const st = readFileSync(`/proc/self/task/${t}/stat`, 'utf8');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      helpers += (Number(f[11]) + Number(f[12])) / 100;
    } catch {
      /* ended meanwhile */
    }
  }
  bye();
  process.stdout.write(
    JSON.stringify({
      wall: Number(process.hrtime.bigint() - t0) / 1e9,
      process: (c.user + c.system) / 1e6,
      user: c.user / 1e6,
      sys: c.system / 1e6,
      main: threadCpuSeconds(),
      helpers,
      mainStart,
      threads: done.map((d) => d.cpu),
      start: done.map((d) => d.start),
      setup: done.map((d) => d.setup),
      readOut: done.map((d) => d.readOut),
      own: done.map((d) => d.own),
      frames: done.map((d) => d.frames),
    }) + '\n',
  );
}
