import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import type { Db } from '../store/db.js';
import { MAGIC } from '../assess/bundle/format.js';
import { importBundle } from '../assess/bundle/import.js';

/** Whether a file starts like a Weir bundle (so `advisories import` can take one too). */
export function isBundleFile(p: string): boolean {
  let fd: number;
  try {
    fd = openSync(p, 'r');
  } catch {
    return false;
  }
  try {
    const b = Buffer.alloc(MAGIC.length);
    readSync(fd, b, 0, b.length, 0);
    return b.toString() === MAGIC;
  } catch {
    return false;
  } finally {
    closeSync(fd);
  }
}

export function importBundleFile(db: Db, p: string, who: string): Promise<{ line: string }> {
  return importBundleBytes(db, readFileSync(p), who, p);
}

/** Import a bundle's bytes (from a file, or pushed by the fleet manager); one line saying what it brought. */
export async function importBundleBytes(
  db: Db,
  file: Buffer,
  who: string,
  source: string,
): Promise<{ line: string }> {
  const r = await importBundle(db, file, who, source);
  const a = r.advisories;
  const parts = [
    `bundle ${r.header.sequence} from ${r.header.publisher} (key ${r.header.keyId}) imported`,
    `advisories: ${a.added} added, ${a.updated} updated, ${a.unchanged} unchanged, ${a.older} older kept, ${a.rejected.length} rejected`,
  ];
  if (r.knowledge.length > 0)
    parts.push(
      `kept: ${r.knowledge.map((k) => `${k.kind} ${k.name} (${k.bytes} bytes)`).join(', ')}`,
    );
  return { line: parts.join('; ') };
}
