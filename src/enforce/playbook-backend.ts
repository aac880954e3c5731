import type { NftTarget } from './nft.js';
import type { NftFamily } from './nft-ruleset.js';
import { readApplied } from './state.js';
import { NftBackend } from './nft-backend.js';

/**
 * The enforcement backend the playbooks act through: the same contract as `weir block` and `enforce apply`,
 * writing blocks and permits through one persistent nft process (detection → kernel block is the measure).
 * Close it when the runner stops.
 */
export function playbookBackend(o: {
  stateDir: string;
  family?: string;
  netns?: string;
  looseReversePath?: boolean;
}): NftBackend {
  return new NftBackend(
    { ...playbookTarget(o), looseReversePath: o.looseReversePath === true },
    o.stateDir,
    { persistent: true },
  );
}

/** Where the kernel side of the playbooks lives: as given, else as `enforce apply` loaded it (else bridge). */
export function playbookTarget(o: {
  stateDir: string;
  family?: string;
  netns?: string;
}): NftTarget {
  const applied = readApplied(o.stateDir);
  const family = o.family ?? applied?.family ?? 'bridge';
  if (family !== 'bridge' && family !== 'inet') throw new Error('--family is bridge or inet');
  return { family: family as NftFamily, netns: o.netns ?? applied?.netns };
}
