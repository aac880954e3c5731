import path from 'node:path';
import { openStore } from '../../src/store/db.js';
import { savePolicyText, setActivePolicy } from '../../src/store/change-store.js';
import { parsePolicy } from '../../src/policy/load.js';
import { policyHashes } from '../../src/respond/change-control.js';
import { person } from './weir-cli.js';

/** Make `text` the store's active policy — what approval leaves behind (change control itself is tested in test/policy). */
export function activate(db: string, text: string): void {
  const d = openStore(db);
  try {
    const r = parsePolicy(text, 'policy.yaml');
    if (!r.ok) throw new Error(`test policy invalid: ${JSON.stringify(r.errors)}`);
    const { sha, rulesSha } = policyHashes(r.policy, text);
    savePolicyText(d, { sha, rulesSha, source: 'policy.yaml', text });
    setActivePolicy(d, sha, null);
  } finally {
    d.close();
  }
}

/**
 * A store whose active policy is `text`, with a logged-in admin (allowed to enforce) for the enforcement
 * commands: pass `auth` to each of them.
 */
export async function approvedStore(
  dir: string,
  text: string,
): Promise<{ db: string; token: string; auth: string[] }> {
  const db = path.join(dir, 'weir.db');
  const token = await person(db, dir, 'root', ['admin'], { admin: '' });
  activate(db, text);
  return { db, token, auth: ['--db', db, '--token-file', token] };
}
