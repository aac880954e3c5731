/**
 * The one place that decides whether enforcement on this host is a fleet site's: when WEIR_FLEET_NODE names a
 * running `weir node` folder, the local backend is wrapped so that blocks go fleet-wide and detections are
 * sent to the manager, through that node's outbox (node.db; the node publishes what other processes add).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { EnforcementBackend } from '../enforce/backend.js';
import { FleetBackend } from './fleet-backend.js';
import { openFleetDb } from './fleet-db.js';
import { Outbox } from './outbox.js';
import { checkSiteName } from './subjects.js';

export const NODE_ENV = 'WEIR_FLEET_NODE';

/** The outbox of the node folder `dir` (its site from site.json, written by `weir node`). */
export function nodeOutbox(dir: string): Outbox {
  const f = path.join(dir, 'site.json');
  if (!existsSync(f))
    throw new Error(
      `${NODE_ENV}=${dir}: not a weir node folder (no site.json; start weir node there)`,
    );
  const { site } = JSON.parse(readFileSync(f, 'utf8')) as { site: string };
  return new Outbox(openFleetDb(path.join(dir, 'node.db')), checkSiteName(site));
}

/**
 * The node folder this host enforces for, if it is a fleet site: WEIR_FLEET_NODE, else the settings'
 * fleet.node_dir (a host set up once as a site stays one for every command and for serve); null: not a site.
 */
export function fleetNodeDir(setting = '', env = process.env[NODE_ENV]): string | null {
  if (env !== undefined && env !== '') return env;
  return setting !== '' ? setting : null;
}

export function siteBackend(
  local: EnforcementBackend,
  dir: string | null | undefined = fleetNodeDir(),
): EnforcementBackend {
  if (dir === undefined || dir === null || dir === '') return local;
  return new FleetBackend(local, nodeOutbox(dir));
}

/**
 * The wrapper a long-running process (serve) puts around each enforcement backend it builds, one outbox for
 * all of them; null when this host is not a fleet site.
 */
export function siteWrapper(
  dir: string | null,
): ((local: EnforcementBackend) => EnforcementBackend) | null {
  if (dir === null) return null;
  const outbox = nodeOutbox(dir); // a wrong folder fails at start, not at the first block
  return (local) => new FleetBackend(local, outbox);
}
