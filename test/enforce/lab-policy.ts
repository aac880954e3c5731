// How the lab tests hand a policy with enforcing zones to `weir enforce apply`: through a store whose active
// policy it is (what approval leaves behind), by a logged-in admin. The same store takes later policies.
import path from 'node:path';
import { existsSync } from 'node:fs';
import { activate, approvedStore } from '../helpers/approved-store.js';

/** CLI arguments that make `text` what `enforce apply` loads, and prove who applies it. */
export async function labPolicyStore(dir: string, text: string): Promise<string[]> {
  const db = path.join(dir, 'weir.db');
  if (!existsSync(db)) return (await approvedStore(dir, text)).auth;
  activate(db, text);
  return ['--db', db, '--token-file', path.join(dir, 'token-root')];
}
