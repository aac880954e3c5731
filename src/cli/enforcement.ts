import type { EnforcementBackend } from '../enforce/backend.js';
import { NftBackend } from '../enforce/nft-backend.js';
import type { NftFamily } from '../enforce/nft-ruleset.js';
import { DEFAULT_STATE_DIR } from '../enforce/state.js';
import { fleetNodeDir, siteBackend } from '../fleet/site-backend.js';
import { cliSettings } from './settings.js';

/** Where the CLI's enforcement commands act: the options every one of them takes. */
export interface TargetOpts {
  family: string;
  netns?: string;
  stateDir?: string;
}

export function familyOf(family: string): NftFamily {
  if (family !== 'bridge' && family !== 'inet') throw new Error('--family is bridge or inet');
  return family;
}

/**
 * The enforcement backend the CLI's commands use; the only place that picks one. Another backend (a fleet
 * node, a test double) is chosen here, and every command follows.
 */
export function enforcementBackend(
  o: TargetOpts,
  /** The store's rule where the command has a store (enforce apply); else what the settings say. */
  looseReversePath = cliSettings().enforce.loose_reverse_path,
): EnforcementBackend {
  // On a fleet site (WEIR_FLEET_NODE or settings fleet.node_dir), a block decided here goes fleet-wide too.
  return siteBackend(
    new NftBackend(
      {
        family: familyOf(o.family),
        netns: o.netns,
        looseReversePath,
      },
      o.stateDir ?? DEFAULT_STATE_DIR,
    ),
    fleetNodeDir(cliSettings().fleet.node_dir),
  );
}
