// A running hub on loopback with sites enrolled, for the tests of admitting, removing and re-keying sites: the
// manager (its hub with a monitor port), the hub's open leaf links as the monitor lists them, a site's stored
// detections, and site nodes started from a kit folder. Everything started is stopped by `stop`.
import path from 'node:path';
import { addSite, openHome, readSiteKit, type ManagerHome } from '../../src/fleet/home.js';
import { ManagerRuntime } from '../../src/fleet/manager-runtime.js';
import { NodeRuntime, type NodeRunOptions } from '../../src/fleet/node-runtime.js';
import { freePort, MemoryBackend, tempDir } from './fleet-kit.js';

export interface LiveHub {
  home: ManagerHome;
  mgr: ManagerRuntime;
  mdir: string;
  leafPort: number;
  /** The hub's open leaf links, `ip:port`, sorted. */
  links(): Promise<string[]>;
  /** Detections the manager stored from `site`. */
  stored(site: string): number;
  /** A node of `site` from the kit in `kitDir` (default: the site's kit in the manager folder). */
  node(
    site: string,
    o?: { kitDir?: string; dir?: string; more?: Partial<NodeRunOptions> },
  ): Promise<NodeRuntime>;
  /** Stop every node and the manager, last started first. */
  stop(): Promise<void>;
}

/**
 * A manager on loopback ports of its own, for the folder `mdir` (sites added by the caller), stopped with the
 * test's other `stops`. `leafPort` is where site nodes link.
 */
export async function startManager(
  mdir: string,
  stops: { push(stop: () => Promise<void>): unknown },
  log: (m: string) => void = () => undefined,
  more: { monitorPort?: number } = {},
): Promise<{ mgr: ManagerRuntime; leafPort: number }> {
  const leafPort = await freePort();
  const mgr = await ManagerRuntime.start({
    dir: mdir,
    client: { host: '127.0.0.1', port: await freePort() },
    leaf: { host: '127.0.0.1', port: leafPort },
    ...more,
    log,
  });
  stops.push(() => mgr.stop());
  return { mgr, leafPort };
}

export async function liveHub(dir: string, sites: string[]): Promise<LiveHub> {
  const mdir = path.join(dir, 'manager');
  const home = openHome(mdir);
  for (const s of sites) addSite(home, s);
  const monitorPort = await freePort();
  const stops: Array<() => Promise<void>> = [];
  const { mgr, leafPort } = await startManager(mdir, stops, undefined, { monitorPort });
  return {
    home,
    mgr,
    mdir,
    leafPort,
    links: async () =>
      (
        (
          (await (await fetch(`http://127.0.0.1:${monitorPort}/leafz`)).json()) as {
            leafs?: Array<{ ip: string; port: number }>;
          }
        ).leafs ?? []
      )
        .map((l) => `${l.ip}:${l.port}`)
        .sort(),
    stored: (site) =>
      (
        mgr.db
          .prepare("SELECT count(*) AS n FROM fleet_records WHERE site = ? AND kind = 'detection'")
          .get(site) as { n: number }
      ).n,
    node: async (site, o = {}) => {
      const rt = await NodeRuntime.start({
        kit: readSiteKit(site, o.kitDir ?? path.join(mdir, 'sites', site)),
        dir: o.dir ?? tempDir(`site-${site}`),
        client: { host: '127.0.0.1', port: await freePort() },
        hubUrls: [`nats-leaf://127.0.0.1:${leafPort}`],
        local: new MemoryBackend(),
        log: () => undefined,
        ...o.more,
      });
      stops.push(() => rt.stop());
      return rt;
    },
    stop: async () => {
      for (const s of stops.reverse()) await s().catch(() => undefined);
    },
  };
}
