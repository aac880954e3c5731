/**
 * Admitting and removing a site while the hub runs: the hub's users are rewritten in its configuration and
 * nats-server is told to reload it (SIGHUP, what `nats-server --signal reload=PID` sends). A new site's user
 * and permissions take effect at once. Removing one takes its user out, so its certificate no longer maps to
 * anyone and it cannot connect again — but nats-server 2.9 re-checks only client connections on reload, not
 * leaf links: the removed site's open link would keep its old permissions. So that link is closed here, at
 * the kernel (ss -K on the hub's socket), once the hub's monitor names it; the other sites' links are left
 * alone. Without a monitor port every leaf link is closed and the remaining sites reconnect at once (their
 * outboxes and state cursors lose nothing).
 */
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  openSync,
  readSync,
  closeSync,
} from 'node:fs';
import path from 'node:path';
import { generationOf, type ManagerHome } from './home.js';
import { dropSiteKey } from './pki.js';
import { withSites } from './nats-config.js';
import { checkSiteName, siteInbox } from './subjects.js';

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
  writeFileSync(
    conf,
    withSites(readFileSync(conf, 'utf8'), home.nkeyPublic, home.sites, home.generations),
    {
      mode: 0o600,
    },
  );
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

interface LeafLink {
  ip: string;
  port: number;
  subscriptions_list?: string[];
}

/** The hub's leaf links, each with the site its subscriptions show (null: none or more than one). */
async function leafLinks(
  monitorPort: number,
  sites: string[],
): Promise<Array<LeafLink & { site: string | null }>> {
  const r = await fetch(`http://127.0.0.1:${monitorPort}/leafz?subs=1`);
  const leafs = ((await r.json()) as { leafs?: LeafLink[] }).leafs ?? [];
  return leafs.map((l) => {
    // What a site's link subscribes to on the hub is bounded by its permissions: its own inboxes only.
    const inboxes = (l.subscriptions_list ?? []).filter((x) => x.startsWith('_INBOX.'));
    const of = sites.filter(
      (s) => inboxes.length > 0 && inboxes.every((x) => x.startsWith(`${siteInbox(s)}.`)),
    );
    return { ...l, site: of.length === 1 ? of[0]! : null };
  });
}

function confValue(conf: string, re: RegExp): string | null {
  return re.exec(conf)?.[1] ?? null;
}

/** Close the hub's side of the leaf links from `peers` (all of them: null) at the kernel. */
function cut(leafPort: number, peers: Array<{ ip: string; port: number }> | null): void {
  const filters =
    peers === null
      ? [['sport', '=', `:${leafPort}`]]
      : peers.map((p) => ['dst', p.ip, 'sport', '=', `:${leafPort}`, 'dport', '=', `:${p.port}`]);
  for (const f of filters)
    try {
      execFileSync('ss', ['-K', '-t', ...f], { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (err) {
      const e = err as { stderr?: Buffer; message: string };
      throw new Error(
        `could not close a leaf link (ss -K): ${e.stderr?.toString().trim() || e.message}`,
      );
    }
}

/**
 * Close the open links of sites not in `home.sites` (after a reload took their users out). Links the monitor
 * cannot put a name to are closed too: an admitted site among them reconnects at once, a removed one cannot.
 * Returns how many links were closed.
 */
export async function cutRemovedLinks(home: ManagerHome, timeoutMs = 5000): Promise<number> {
  const conf = readFileSync(path.join(home.dir, 'hub.conf'), 'utf8');
  const leafPort = Number(confValue(conf, /leafnodes \{\n\s*listen: "[^"]*:(\d+)"/));
  const monitor = confValue(conf, /^http: "127\.0\.0\.1:(\d+)"/m);
  if (monitor === null) {
    cut(leafPort, null);
    return -1;
  }
  const all = [...new Set([...home.sites, ...readdirSites(home)])];
  const stale = (await leafLinks(Number(monitor), all)).filter(
    (l) => l.site === null || !home.sites.includes(l.site),
  );
  cut(leafPort, stale);
  const end = Date.now() + timeoutMs;
  const gone = (l: LeafLink, now: LeafLink[]): boolean =>
    !now.some((x) => x.ip === l.ip && x.port === l.port);
  while (Date.now() < end) {
    const now = await leafLinks(Number(monitor), all);
    if (stale.every((l) => gone(l, now))) return stale.length;
    await sleep(50);
  }
  throw new Error("a removed site's leaf link is still open");
}

/** Sites whose kits are still in the folder (a removal in progress): their links are recognised by name. */
function readdirSites(home: ManagerHome): string[] {
  const d = path.join(home.dir, 'sites');
  return existsSync(d) ? readdirSync(d) : [];
}

/**
 * Take a site out of the fleet: off the site list and out of the hub's users (reloaded, and its open link
 * closed, if the hub runs), and its kit and private key removed from the manager's folder. Its records stay in
 * manager.db, and its generation in enrolments.json: enrolled again, the name gets a new one, so this
 * enrolment's certificate is never mapped again.
 */
export async function removeSite(home: ManagerHome, site: string): Promise<ReloadOutcome> {
  checkSiteName(site);
  if (!home.sites.includes(site)) throw new Error(`no site named '${site}'`);
  home.sites = home.sites.filter((s) => s !== site);
  writeFileSync(path.join(home.dir, 'sites.json'), `${JSON.stringify(home.sites)}\n`);
  const out = await reloadHub(home);
  if (out === 'reloaded') await cutRemovedLinks(home);
  rmSync(path.join(home.dir, 'sites', site), { recursive: true, force: true });
  dropSiteKey(home.pki, site, generationOf(home, site));
  return out;
}
