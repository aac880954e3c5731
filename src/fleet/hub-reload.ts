/**
 * Admitting and removing a site while the hub runs: the hub's users are rewritten in its configuration and
 * nats-server is told to reload it (SIGHUP, what `nats-server --signal reload=PID` sends). A new site's user
 * and permissions take effect at once; a removed site's leaf link is closed by the server on reload (its user
 * is gone, so its certificate no longer maps to anyone) and its reconnects are refused.
 */
import {
  existsSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  openSync,
  readSync,
  closeSync,
} from 'node:fs';
import path from 'node:path';
import type { ManagerHome } from './home.js';
import { withSites } from './nats-config.js';
import { checkSiteName } from './subjects.js';

export type ReloadOutcome =
  /** The running hub took the new users. */
  | 'reloaded'
  /** No hub runs from this folder: the users are written and take effect when `manager run` starts. */
  | 'not running';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The pid of the hub of `dir` if one runs (its pid file names a live nats-server), else null. */
export function hubPid(dir: string): number | null {
  const f = path.join(dir, 'hub.pid');
  if (!existsSync(f)) return null;
  const pid = Number(readFileSync(f, 'utf8').trim());
  if (!Number.isInteger(pid) || pid < 2) return null;
  // A pid file outlives a crashed server, and the number may be another process's by now: never signal that.
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'nats-server' ? pid : null;
  } catch {
    return null;
  }
}

function tail(file: string, from: number): string {
  if (!existsSync(file)) return '';
  const size = statSync(file).size;
  if (size <= from) return '';
  const buf = Buffer.alloc(size - from);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, buf, 0, buf.length, from);
  } finally {
    closeSync(fd);
  }
  return buf.toString('utf8');
}

/**
 * Write the hub's users for `home.sites` and, if the hub runs, have it reload them; resolves once the server
 * says it reloaded (its log), rejects with the server's reason if it refused the new configuration.
 */
export async function reloadHub(home: ManagerHome, timeoutMs = 10_000): Promise<ReloadOutcome> {
  const conf = path.join(home.dir, 'hub.conf');
  if (!existsSync(conf)) return 'not running';
  writeFileSync(conf, withSites(readFileSync(conf, 'utf8'), home.nkeyPublic, home.sites), {
    mode: 0o600,
  });
  const pid = hubPid(home.dir);
  if (pid === null) return 'not running';
  const log = path.join(home.dir, 'hub.log');
  const from = existsSync(log) ? statSync(log).size : 0;
  process.kill(pid, 'SIGHUP');
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const said = tail(log, from);
    const failed = /Failed to reload server configuration: ([^\n]*)/.exec(said);
    if (failed !== null) throw new Error(`the hub refused its new configuration: ${failed[1]}`);
    if (/Reloaded server configuration/.test(said)) return 'reloaded';
    await sleep(50);
  }
  throw new Error(`the hub (pid ${pid}) did not confirm the reload within ${timeoutMs} ms`);
}

/**
 * Take a site out of the fleet: off the site list and out of the hub's users (reloaded if the hub runs), and
 * its kit removed from the manager's folder. Its records already stored stay in manager.db.
 */
export async function removeSite(home: ManagerHome, site: string): Promise<ReloadOutcome> {
  checkSiteName(site);
  if (!home.sites.includes(site)) throw new Error(`no site named '${site}'`);
  home.sites = home.sites.filter((s) => s !== site);
  writeFileSync(path.join(home.dir, 'sites.json'), `${JSON.stringify(home.sites)}\n`);
  const out = await reloadHub(home);
  rmSync(path.join(home.dir, 'sites', site), { recursive: true, force: true });
  return out;
}
