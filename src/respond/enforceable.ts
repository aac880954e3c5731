import type { Db } from '../store/db.js';
import { parsePolicy } from '../policy/load.js';
import { PolicyInvalid } from '../policy/errors.js';
import type { Policy } from '../policy/model.js';
import { activePolicy, ChangeRefused, policyHashes } from './change-control.js';

export interface EnforceablePolicy {
  policy: Policy;
  /** 'file': a file whose zones at most simulate; 'active': the store's active policy (or a file identical to it). */
  source: 'file' | 'active';
  sha: string;
  /** The policy's text, as hashed: what the kernel and the gateway are told to run. */
  text: string;
}

/**
 * The one gate between a policy and the kernel or the gateway. A plain file may observe, monitor or simulate;
 * enforce mode comes only from a policy that went through approval — the store's active policy, or a file
 * with exactly its hash.
 */
export function enforceablePolicy(
  db: Db | null,
  file: { text: string; source: string } | null,
): EnforceablePolicy {
  if (file === null) {
    if (db === null)
      throw new ChangeRefused('give --policy FILE or --db STORE (its active policy)');
    const a = activePolicy(db);
    if (a === null)
      throw new ChangeRefused(
        'no active policy in the store: submit, approve and apply one first (weir policy submit, weir policy approve, weir policy apply)',
      );
    return { policy: a.policy, source: 'active', sha: a.sha, text: a.text };
  }
  const r = parsePolicy(file.text, file.source);
  if (!r.ok) throw new PolicyInvalid(r.errors);
  const { sha } = policyHashes(r.policy, file.text);
  const enforcing = r.policy.zones.filter((z) => z.mode === 'enforce').map((z) => z.name);
  if (enforcing.length === 0) return { policy: r.policy, source: 'file', sha, text: file.text };
  const way = `a policy reaches enforce only through approval: \`weir policy submit ${file.source} --db STORE\`, the approvals its zones require (\`weir policy approve\`), \`weir policy apply ID\`; then enforce with --db STORE`;
  const zones = `zone${enforcing.length === 1 ? '' : 's'} ${enforcing.join(', ')} ${enforcing.length === 1 ? 'is' : 'are'} in enforce mode`;
  if (db === null)
    throw new ChangeRefused(
      `${file.source}: ${zones}, and a policy file alone may only observe, monitor or simulate; ${way}`,
    );
  const active = activePolicy(db);
  if (active?.sha !== sha) {
    throw new ChangeRefused(
      `${file.source} (sha256 ${sha.slice(0, 12)}) is not the store's active policy (${active === null ? 'none' : `sha256 ${active.sha.slice(0, 12)}`}): ${zones}; ${way}`,
    );
  }
  return { policy: r.policy, source: 'active', sha, text: file.text };
}
