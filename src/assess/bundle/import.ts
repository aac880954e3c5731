/**
 * Importing a signed bundle into the store: verified first (signed, by a trusted key, unchanged, newer than
 * the last one), then its advisories go through the advisory import and its other items are kept as the
 * store's current knowledge of their kind. Refusals and imports are both audited.
 */
import { createHash } from 'node:crypto';
import type { Db } from '../../store/db.js';
import { appendAudit } from '../../store/audit-store.js';
import {
  lastBundleSequence,
  recordBundle,
  saveKnowledge,
  trustedKeys,
} from '../../store/bundle-store.js';
import { feedFilesOf } from '../advisories/archive.js';
import { emptySummary, importFeedFiles, type ImportSummary } from '../advisories/import.js';
import { BundleRefused, itemData, verifyBundle, type BundleHeader } from './format.js';

export interface BundleImport {
  header: BundleHeader;
  advisories: ImportSummary;
  knowledge: Array<{ kind: string; name: string; bytes: number }>;
}

export async function importBundle(
  db: Db,
  file: Buffer,
  who: string,
  source: string,
): Promise<BundleImport> {
  let b;
  try {
    b = verifyBundle(file, trustedKeys(db), lastBundleSequence(db), source);
  } catch (err) {
    if (err instanceof BundleRefused)
      appendAudit(db, {
        actor: who,
        action: 'bundle.refused',
        subject: source,
        details: { reason: err.reason, message: err.message },
      });
    throw err;
  }
  const advisories = emptySummary();
  const knowledge: BundleImport['knowledge'] = [];
  for (const it of b.header.items) {
    const data = itemData(b, it);
    if (it.kind === 'advisories') {
      const s = await importFeedFiles(
        db,
        feedFilesOf(it.name, data),
        `bundle ${b.header.sequence}: ${it.name}`,
      );
      for (const k of ['files', 'added', 'updated', 'unchanged', 'older'] as const)
        advisories[k] += s[k];
      advisories.rejected.push(...s.rejected);
    } else {
      saveKnowledge(db, {
        kind: it.kind,
        name: it.name,
        sha256: it.sha256,
        sequence: b.header.sequence,
        data,
      });
      knowledge.push({ kind: it.kind, name: it.name, bytes: data.length });
    }
  }
  const sha = createHash('sha256').update(file).digest('hex');
  recordBundle(db, {
    sequence: b.header.sequence,
    keyId: b.header.keyId,
    publisher: b.header.publisher,
    created: b.header.created,
    sha256: sha,
    by: who,
    items: b.header.items.map(({ kind, name, sha256, length }) => ({ kind, name, sha256, length })),
  });
  appendAudit(db, {
    actor: who,
    action: 'bundle.import',
    subject: source,
    details: {
      sequence: b.header.sequence,
      keyId: b.header.keyId,
      publisher: b.header.publisher,
      sha256: sha,
      advisoriesAdded: advisories.added,
      advisoriesUpdated: advisories.updated,
      knowledge: knowledge.map((k) => `${k.kind}:${k.name}`),
    },
  });
  return { header: b.header, advisories, knowledge };
}
