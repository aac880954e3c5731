// How the lab tests hand a policy with enforcing zones to `weir enforce apply`: the CLI arguments that name it.
import { writeFileSync } from 'node:fs';
import path from 'node:path';

export async function labPolicyStore(dir: string, text: string): Promise<string[]> {
  const file = path.join(dir, `policy-${Date.now()}.yaml`);
  writeFileSync(file, text);
  return ['--policy', file];
}
