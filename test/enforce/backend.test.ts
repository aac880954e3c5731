import { test } from 'node:test';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { NftBackend } from '../../src/enforce/nft-backend.js';
import { canBuildLab } from '../lab/plant.js';
import { backendContract } from '../helpers/backend-contract.js';

test('the nftables backend keeps the enforcement contract (in a namespace of its own)', async (t) => {
  if (!canBuildLab()) {
    if (process.env.CI === 'true') throw new Error('needs root and iproute2');
    return t.skip('needs root');
  }
  const ns = `weir-be-${randomBytes(3).toString('hex')}`;
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-backend-'));
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    // One nft process per command (the CLI) and one persistent `nft -i` (the playbooks) keep the same contract.
    for (const family of ['bridge', 'inet'] as const)
      for (const persistent of [false, true])
        await backendContract(
          new NftBackend({ family, netns: ns }, path.join(dir, `${family}-${persistent}`), {
            persistent,
          }),
        );
  } finally {
    execFileSync('ip', ['netns', 'del', ns]);
    rmSync(dir, { recursive: true, force: true });
  }
});
