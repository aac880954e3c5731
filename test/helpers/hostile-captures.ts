import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/** Known pcapng block types (SHB, IDB, PB, SPB, EPB): a hostile file uses anything else. */
const KNOWN_BLOCKS = new Set([0x0a0d0d0a, 1, 2, 3, 6]);

/** A pcapng section header and one Ethernet interface, little-endian. */
function pcapngHead(): Buffer {
  const shb = Buffer.alloc(28);
  shb.writeUInt32LE(0x0a0d0d0a, 0);
  shb.writeUInt32LE(28, 4);
  shb.writeUInt32LE(0x1a2b3c4d, 8);
  shb.writeUInt16LE(1, 12);
  shb.writeUInt16LE(0, 14);
  shb.writeInt32LE(-1, 16);
  shb.writeInt32LE(-1, 20);
  shb.writeUInt32LE(28, 24);
  const idb = Buffer.alloc(20);
  idb.writeUInt32LE(1, 0);
  idb.writeUInt32LE(20, 4);
  idb.writeUInt16LE(1, 8);
  idb.writeUInt32LE(65535, 12);
  idb.writeUInt32LE(20, 16);
  return Buffer.concat([shb, idb]);
}

/** A pcapng of `bytes` bytes of empty (12-byte) blocks, each of a random unknown type. */
export function pcapngOfUnknownBlocks(bytes: number): Buffer {
  const head = pcapngHead();
  const n = Math.floor(bytes / 12);
  const out = Buffer.alloc(head.length + n * 12);
  head.copy(out, 0);
  const rnd = randomBytes(n * 4);
  for (let i = 0, o = head.length; i < n; i++, o += 12) {
    let type = rnd.readUInt32LE(i * 4);
    if (KNOWN_BLOCKS.has(type)) type = 0x7fff0000;
    out.writeUInt32LE(type, o);
    out.writeUInt32LE(12, o + 4);
    out.writeUInt32LE(12, o + 8);
  }
  return out;
}

/**
 * A pcap of `frames` Modbus/TCP read requests to 10.0.0.1:502, each from a random spoofed source MAC and
 * IPv4 address (a flood of forged senders): every frame is a new asset, a new edge and a new TCP stream.
 */
export function spoofedSourcesPcap(frames: number): Buffer {
  const frameLen = 14 + 20 + 20 + 12;
  const rec = 16 + frameLen;
  const out = Buffer.alloc(24 + frames * rec);
  out.writeUInt32LE(0xa1b2c3d4, 0);
  out.writeUInt16LE(2, 4);
  out.writeUInt16LE(4, 6);
  out.writeUInt32LE(65535, 16);
  out.writeUInt32LE(1, 20);
  const rnd = randomBytes(frames * 12);
  const t0 = 1_700_000_000;
  for (let i = 0; i < frames; i++) {
    const o = 24 + i * rec;
    out.writeUInt32LE(t0 + Math.floor(i / 1000), o);
    out.writeUInt32LE((i % 1000) * 1000, o + 4);
    out.writeUInt32LE(frameLen, o + 8);
    out.writeUInt32LE(frameLen, o + 12);
    const f = o + 16;
    // Ethernet: destination 02:00:00:00:00:01, a random unicast locally administered source.
    out.writeUInt32LE(0x02, f);
    out.writeUInt16BE(0x0001, f + 4);
    rnd.copy(out, f + 6, i * 12, i * 12 + 6);
    out[f + 6] = (out[f + 6]! & 0xfc) | 0x02;
    out.writeUInt16BE(0x0800, f + 12);
    // IPv4: a distinct scattered source in 10.0.0.0/8 per frame (multiplying by an odd number is a bijection
    // mod 2^24, so no two frames share one and counts are exact), never the server 10.0.0.1; destination 10.0.0.1.
    const ip = f + 14;
    out[ip] = 0x45;
    out.writeUInt16BE(20 + 20 + 12, ip + 2);
    out.writeUInt16BE(i & 0xffff, ip + 4);
    out[ip + 8] = 64;
    out[ip + 9] = 6;
    const v = Math.imul(i + 2, 0x9e3779b1) & 0xffffff;
    out[ip + 12] = 10;
    out[ip + 13] = v >>> 16;
    out[ip + 14] = (v >>> 8) & 255;
    out[ip + 15] = v & 255;
    if (v <= 1) throw new Error('spoofedSourcesPcap: source would be the server');
    out[ip + 16] = 10;
    out[ip + 17] = 0;
    out[ip + 18] = 0;
    out[ip + 19] = 1;
    let sum = 0;
    for (let k = 0; k < 20; k += 2) sum += out.readUInt16BE(ip + k);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    out.writeUInt16BE(~sum & 0xffff, ip + 10);
    // TCP: ephemeral source port, 502, PSH|ACK, and a Modbus read holding registers request.
    const tcp = ip + 20;
    out.writeUInt16BE(1024 + (rnd.readUInt16LE(i * 12 + 9) % 60000), tcp);
    out.writeUInt16BE(502, tcp + 2);
    out.writeUInt32BE(1000, tcp + 4);
    out.writeUInt32BE(1, tcp + 8);
    out[tcp + 12] = 0x50;
    out[tcp + 13] = 0x18;
    out.writeUInt16BE(8192, tcp + 14);
    const mb = tcp + 20;
    out.writeUInt16BE(i & 0xffff, mb);
    out.writeUInt16BE(0, mb + 2);
    out.writeUInt16BE(6, mb + 4);
    out[mb + 6] = 1;
    out[mb + 7] = 3;
    out.writeUInt16BE(0, mb + 8);
    out.writeUInt16BE(10, mb + 10);
  }
  return out;
}

export function writeCapture(file: string, bytes: Buffer): string {
  writeFileSync(file, bytes);
  return file;
}

/** A `weir` CLI run with its wall time, CPU time and peak resident memory (the last two reported by the child at exit). */
export interface MeasuredRun {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
  /**
   * User + system CPU time of the child (ms): what the run itself cost. Unlike the wall time it does not grow
   * with the other load on a shared machine, so a bound on it holds as tight under load as idle.
   */
  cpuMs: number;
  maxRssMB: number;
}

/**
 * Run the CLI at `cli` with `args`, measuring time and peak RSS; `input` feeds stdin. The child preloads a
 * tiny module that prints `process.resourceUsage().maxRSS` on exit, so no external tool is needed.
 */
export function runMeasured(
  cli: string,
  args: string[],
  dir: string,
  opts: { input?: Buffer; timeoutMs?: number } = {},
): Promise<MeasuredRun> {
  const preload = path.join(dir, 'maxrss.mjs');
  writeFileSync(
    preload,
    "import { writeSync } from 'node:fs';\nprocess.on('exit', () => { const u = process.resourceUsage(); writeSync(2, `\\nweir-test-maxrss=${u.maxRSS} weir-test-cpu=${u.userCPUTime + u.systemCPUTime}\\n`); });\n",
  );
  const t0 = Date.now();
  const child = spawn(process.execPath, ['--import', pathToFileURL(preload).href, cli, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [],
    err: Buffer[] = [];
  child.stdout.on('data', (b: Buffer) => out.push(b));
  child.stderr.on('data', (b: Buffer) => err.push(b));
  child.stdin.on('error', () => undefined);
  if (opts.input) child.stdin.end(opts.input);
  else child.stdin.end();
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      const stderr = Buffer.concat(err).toString();
      const kb = Number(/weir-test-maxrss=(\d+)/.exec(stderr)?.[1] ?? NaN);
      const cpuUs = Number(/weir-test-cpu=(\d+)/.exec(stderr)?.[1] ?? NaN);
      resolve({
        code,
        stdout: Buffer.concat(out).toString(),
        stderr,
        ms: Date.now() - t0,
        cpuMs: cpuUs / 1000,
        maxRssMB: kb / 1024,
      });
    }),
  );
}
