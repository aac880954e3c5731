import type { Db } from './db.js';

export function trustedKeys(db: Db): Map<string, string> {
  const rows = db.prepare('SELECT key_id, public_key FROM trusted_keys').all() as Array<{
    key_id: string;
    public_key: string;
  }>;
  return new Map(rows.map((r) => [r.key_id, r.public_key]));
}

export function listTrustedKeys(
  db: Db,
): Array<{ keyId: string; name: string; addedBy: string; addedAt: string }> {
  return db
    .prepare(
      'SELECT key_id AS keyId, name, added_by AS addedBy, added_at AS addedAt FROM trusted_keys ORDER BY added_at',
    )
    .all() as Array<{ keyId: string; name: string; addedBy: string; addedAt: string }>;
}

/** Returns false when the key was already trusted. */
export function addTrustedKey(
  db: Db,
  k: { keyId: string; name: string; pem: string; by: string },
): boolean {
  const r = db
    .prepare(
      'INSERT OR IGNORE INTO trusted_keys (key_id, name, public_key, added_by, added_at) VALUES (?, ?, ?, ?, ?)',
    )
    .run(k.keyId, k.name, k.pem, k.by, new Date().toISOString());
  return r.changes > 0;
}

export function lastBundleSequence(db: Db): number | null {
  const r = db.prepare('SELECT MAX(sequence) AS s FROM bundles').get() as { s: number | null };
  return r.s;
}

export function recordBundle(
  db: Db,
  b: {
    sequence: number;
    keyId: string;
    publisher: string;
    created: string;
    sha256: string;
    by: string;
    items: unknown;
  },
): void {
  db.prepare(
    'INSERT INTO bundles (sequence, key_id, publisher, created, sha256, imported_by, imported_at, items) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  ).run(
    b.sequence,
    b.keyId,
    b.publisher,
    b.created,
    b.sha256,
    b.by,
    new Date().toISOString(),
    JSON.stringify(b.items),
  );
}

export function saveKnowledge(
  db: Db,
  k: { kind: string; name: string; sha256: string; sequence: number; data: Buffer },
): void {
  db.prepare(
    'INSERT OR REPLACE INTO knowledge (kind, name, sha256, bundle_sequence, data) VALUES (?, ?, ?, ?, ?)',
  ).run(k.kind, k.name, k.sha256, k.sequence, k.data);
}

export function knowledgeItems(
  db: Db,
): Array<{ kind: string; name: string; sha256: string; sequence: number; bytes: number }> {
  return db
    .prepare(
      'SELECT kind, name, sha256, bundle_sequence AS sequence, length(data) AS bytes FROM knowledge ORDER BY kind, name',
    )
    .all() as Array<{
    kind: string;
    name: string;
    sha256: string;
    sequence: number;
    bytes: number;
  }>;
}

/** The newest item of a kind a bundle brought (e.g. the OUI table), or null. */
export function latestKnowledge(db: Db, kind: string): { name: string; data: Buffer } | null {
  const r = db
    .prepare(
      'SELECT name, data FROM knowledge WHERE kind = ? ORDER BY bundle_sequence DESC, name LIMIT 1',
    )
    .get(kind) as { name: string; data: Buffer } | undefined;
  return r ?? null;
}
