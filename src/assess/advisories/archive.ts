/**
 * The files of an advisory feed as it arrives: a directory of CSAF JSON files, one JSON file, a tar (gzip or
 * not) or a zip archive. Streams tar files entry by entry so a whole feed is never held in memory at once.
 */
import {
  closeSync,
  createReadStream,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  statSync,
} from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { createGunzip, inflateRawSync } from 'node:zlib';

export interface FeedFile {
  name: string;
  text: string;
}

/** Every .json file of the feed at `p`, in a stable order for directories and in archive order otherwise. */
export async function* feedFiles(p: string): AsyncGenerator<FeedFile> {
  const st = statSync(p);
  if (st.isDirectory()) {
    for (const f of walk(p)) yield { name: path.relative(p, f), text: readFileSync(f, 'utf8') };
    return;
  }
  const head = Buffer.alloc(4);
  const fd = openSync(p, 'r');
  try {
    readSync(fd, head, 0, 4, 0);
  } finally {
    closeSync(fd);
  }
  if (head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) {
    yield* zipEntries(readFileSync(p));
    return;
  }
  if (head[0] === 0x1f && head[1] === 0x8b) {
    yield* tarEntries(createReadStream(p).pipe(createGunzip()));
    return;
  }
  if (/\.tar$/i.test(p)) {
    yield* tarEntries(createReadStream(p));
    return;
  }
  yield { name: path.basename(p), text: readFileSync(p, 'utf8') };
}

/** The .json files of a feed held in memory (an item of a bundle): tar.gz, zip or one JSON file. */
export async function* feedFilesOf(name: string, data: Buffer): AsyncGenerator<FeedFile> {
  if (data[0] === 0x50 && data[1] === 0x4b && data[2] === 0x03 && data[3] === 0x04) {
    yield* zipEntries(data);
    return;
  }
  if (data[0] === 0x1f && data[1] === 0x8b) {
    yield* tarEntries(Readable.from([data]).pipe(createGunzip()));
    return;
  }
  if (/\.tar$/i.test(name)) {
    yield* tarEntries(Readable.from([data]));
    return;
  }
  yield { name, text: data.toString('utf8') };
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const n of readdirSync(dir).sort()) {
    const f = path.join(dir, n);
    if (statSync(f).isDirectory()) out.push(...walk(f));
    else if (/\.json$/i.test(n)) out.push(f);
  }
  return out;
}

const cstr = (b: Buffer) => {
  const z = b.indexOf(0);
  return b.subarray(0, z < 0 ? b.length : z).toString('utf8');
};

/** POSIX ustar / GNU tar, read as a stream of blocks; only regular .json files are yielded. */
async function* tarEntries(stream: AsyncIterable<Buffer>): AsyncGenerator<FeedFile> {
  let buf: Buffer = Buffer.alloc(0);
  let longName: string | null = null;
  let want = null as { name: string; size: number; type: string } | null;
  for await (const chunk of stream) {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    for (;;) {
      if (!want) {
        if (buf.length < 512) break;
        const h = buf.subarray(0, 512);
        buf = buf.subarray(512);
        if (h.every((x) => x === 0)) continue;
        const size = parseInt(cstr(h.subarray(124, 136)).trim() || '0', 8);
        if (!Number.isFinite(size)) throw new Error('tar archive: unreadable entry size');
        const prefix = cstr(h.subarray(345, 500));
        const base = cstr(h.subarray(0, 100));
        const name = longName ?? (prefix ? `${prefix}/${base}` : base);
        longName = null;
        want = { name, size, type: String.fromCharCode(h[156]! || 0x30) };
        continue;
      }
      const padded = Math.ceil(want.size / 512) * 512;
      if (buf.length < padded) break;
      const body = buf.subarray(0, want.size);
      buf = buf.subarray(padded);
      const w = want;
      want = null;
      if (w.type === 'L') longName = cstr(body);
      else if (w.type === 'x') {
        const m = /\d+ path=([^\n]*)\n/.exec(body.toString('utf8'));
        if (m) longName = m[1]!;
      } else if ((w.type === '0' || w.type === '\0') && /\.json$/i.test(w.name))
        yield { name: w.name, text: body.toString('utf8') };
    }
  }
  if (want) throw new Error(`tar archive ends inside ${want.name} (truncated)`);
}

/** A zip archive (stored or deflated entries), read through its central directory. */
function* zipEntries(zip: Buffer): Generator<FeedFile> {
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 65_557); i--)
    if (zip.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  if (eocd < 0) throw new Error('zip archive: end of central directory not found (truncated?)');
  const count = zip.readUInt16LE(eocd + 10);
  let off = zip.readUInt32LE(eocd + 16);
  for (let n = 0; n < count; n++) {
    if (zip.readUInt32LE(off) !== 0x02014b50) throw new Error('zip archive: bad central directory');
    const method = zip.readUInt16LE(off + 10);
    const csize = zip.readUInt32LE(off + 20);
    const nameLen = zip.readUInt16LE(off + 28);
    const extraLen = zip.readUInt16LE(off + 30);
    const commentLen = zip.readUInt16LE(off + 32);
    const local = zip.readUInt32LE(off + 42);
    const name = zip.subarray(off + 46, off + 46 + nameLen).toString('utf8');
    off += 46 + nameLen + extraLen + commentLen;
    if (!/\.json$/i.test(name)) continue;
    const lNameLen = zip.readUInt16LE(local + 26);
    const lExtraLen = zip.readUInt16LE(local + 28);
    const data = zip.subarray(
      local + 30 + lNameLen + lExtraLen,
      local + 30 + lNameLen + lExtraLen + csize,
    );
    if (method === 0) yield { name, text: data.toString('utf8') };
    else if (method === 8) yield { name, text: inflateRawSync(data).toString('utf8') };
    else
      throw new Error(
        `zip archive: ${name} uses compression method ${method}, not stored or deflate`,
      );
  }
}
