/**
 * Import an advisory feed into the store: every CSAF file of a directory, archive or single file. A file
 * that is not JSON or not CSAF is counted and named, never the end of the import.
 */
import type { Db } from '../../store/db.js';
import { saveAdvisory, type SaveOutcome } from '../../store/advisory-store.js';
import { feedFiles, type FeedFile } from './archive.js';
import { readCsaf } from './csaf.js';

export interface ImportSummary {
  files: number;
  added: number;
  updated: number;
  unchanged: number;
  /** Advisories already stored in a newer revision (kept). */
  older: number;
  rejected: Array<{ file: string; problem: string }>;
}

const BATCH = 200;

export function emptySummary(): ImportSummary {
  return { files: 0, added: 0, updated: 0, unchanged: 0, older: 0, rejected: [] };
}

/** Import feed files (from feedFiles() or a bundle) in batches of one transaction each. */
export async function importFeedFiles(
  db: Db,
  files: AsyncIterable<FeedFile> | Iterable<FeedFile>,
  source: string,
  at = new Date().toISOString(),
): Promise<ImportSummary> {
  const sum = emptySummary();
  let batch: FeedFile[] = [];
  const flush = db.transaction((fs: FeedFile[]) => {
    for (const f of fs) {
      let doc: unknown;
      try {
        doc = JSON.parse(f.text);
      } catch (err) {
        sum.rejected.push({ file: f.name, problem: `not JSON: ${(err as Error).message}` });
        continue;
      }
      try {
        const outcome: SaveOutcome = saveAdvisory(db, readCsaf(doc, f.name), source, at);
        sum[outcome]++;
      } catch (err) {
        sum.rejected.push({ file: f.name, problem: (err as Error).message });
      }
    }
  });
  for await (const f of files) {
    sum.files++;
    batch.push(f);
    if (batch.length >= BATCH) {
      flush(batch);
      batch = [];
    }
  }
  if (batch.length > 0) flush(batch);
  return sum;
}

/** Import the feed at a path: a directory of CSAF files, one file, or a tar(.gz) or zip archive. */
export function importFeed(db: Db, path: string, at?: string): Promise<ImportSummary> {
  return importFeedFiles(db, feedFiles(path), path, at);
}
