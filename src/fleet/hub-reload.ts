/**
 * Admitting, removing and re-keying a site while the hub runs: the hub's users are rewritten in its
 * configuration and nats-server is told to reload it (SIGHUP, what `nats-server --signal reload=PID` sends). A
 * new site's user and permissions take effect at once. Removing one (or re-keying it: a new generation) takes
 * the old certificate's user out, so it no longer maps to anyone and cannot connect again.
 *
 * An open leaf link is another matter. nats-server 2.9.10 re-checks only client connections on reload: a leaf
 * link keeps the user and permissions it connected with. Nothing inside NATS 2.9.10 closes one: a user or
 * account removed by reload leaves it open (tested), leafnode `pinned_certs` cannot be changed by reload
 * ("config reload not supported for LeafNode"), and the $SYS kick request came only in 2.10. It checks no CRL
 * and no OCSP of a peer either. So the link is closed here, at the kernel (ss -K on the hub's socket: needs
 * CAP_NET_ADMIN on the hub's host), once the hub's monitor names it; the other sites' links are left alone.
 * Without a monitor port every leaf link is closed and the remaining sites reconnect at once (their outboxes
 * and state cursors lose nothing). When the kernel refuses, the outcome says so and the caller reports it loudly.
 */
import { spawnSync } from 'node:child_process';
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
import { generationOf, newSiteKey, type ManagerHome, type SiteKit } from './home.js';
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

/**
 * Close the hub's side of the leaf links from `peers` (all of them: null) at the kernel. Returns why it could
 * not (no privilege, no ss), or null.
 */
function cut(leafPort: number, peers: Array<{ ip: string; port: number }> | null): string | null {
  const filters =
    peers === null
      ? [['sport', '=', `:${leafPort}`]]
      : peers.map((p) => ['dst', p.ip, 'sport', '=', `:${leafPort}`, 'dport', '=', `:${p.port}`]);
  for (const f of filters) {
    const r = spawnSync('ss', ['-K', '-t', ...f], { stdio: ['ignore', 'ignore', 'pipe'] });
    // ss exits 0 when the kernel refuses (no CAP_NET_ADMIN): it only says so on stderr.
    const said = r.stderr?.toString().trim() ?? '';
    if (r.error !== undefined) return `ss -K: ${r.error.message}`;
    if (r.status !== 0 || /SOCK_DESTROY|not permitted/i.test(said))
      return `ss -K: ${said || `exit ${r.status}`}`;
  }
  return null;
}

/** What became of the open links a removal or a re-key had to close. */
export type LinkClosure =
  /** None was open. */
  | { state: 'none open' }
  /** Closed (`all`: every leaf link, for want of a monitor port to tell them apart). */
  | { state: 'closed'; links: number; all: boolean }
  /** The old certificate's link is still open: whoever holds it keeps the site's permissions until it drops. */
  | { state: 'still open'; links: number; reason: string };

/**
 * Close the open links of sites not in `home.sites` (after a reload took their users out) and of `also` (sites
 * re-keyed: every link they have was made with a certificate no longer mapped, since the new kit has not been
 * used yet). Links the monitor cannot put a name to are closed too: an admitted site among them reconnects at
 * once, a removed one cannot. Never throws for a link it could not close: it says so in the outcome.
 */
export async function cutRemovedLinks(
  home: ManagerHome,
  also: string[] = [],
  timeoutMs = 5000,
): Promise<LinkClosure> {
  const conf = readFileSync(path.join(home.dir, 'hub.conf'), 'utf8');
  const leafPort = Number(confValue(conf, /leafnodes \{\n\s*listen: "[^"]*:(\d+)"/));
  const monitor = confValue(conf, /^http: "127\.0\.0\.1:(\d+)"/m);
  if (monitor === null) {
    const failed = cut(leafPort, null);
    return failed === null
      ? { state: 'closed', links: -1, all: true }
      : { state: 'still open', links: -1, reason: failed };
  }
  const all = [...new Set([...home.sites, ...readdirSites(home)])];
  const stale = (await leafLinks(Number(monitor), all)).filter(
    (l) => l.site === null || !home.sites.includes(l.site) || also.includes(l.site),
  );
  if (stale.length === 0) return { state: 'none open' };
  const failed = cut(leafPort, stale);
  const end = Date.now() + timeoutMs;
  const gone = (l: LeafLink, now: LeafLink[]): boolean =>
    !now.some((x) => x.ip === l.ip && x.port === l.port);
  for (;;) {
    const now = await leafLinks(Number(monitor), all);
    const open = stale.filter((l) => !gone(l, now)).length;
    if (open === 0) return { state: 'closed', links: stale.length, all: false };
    if (failed !== null || Date.now() >= end)
      return {
        state: 'still open',
        links: open,
        // ss -K exits 0 and closes nothing on a kernel without socket destroy (CONFIG_INET_DIAG_DESTROY).
        reason: failed ?? `the link was still open ${timeoutMs} ms after ss -K`,
      };
    await sleep(50);
  }
}

/** Sites whose kits are still in the folder (a removal in progress): their links are recognised by name. */
function readdirSites(home: ManagerHome): string[] {
  const d = path.join(home.dir, 'sites');
  return existsSync(d) ? readdirSync(d) : [];
}

/** What a removal or a re-key did on the running hub (links: null when no hub runs). */
export interface LiveOutcome {
  live: ReloadOutcome;
  links: LinkClosure | null;
}

/**
 * Take a site out of the fleet: off the site list and out of the hub's users (reloaded, and its open link
 * closed, if the hub runs), and its kit and private key removed from the manager's folder. Its records stay in
 * manager.db, and its generation in enrolments.json: enrolled again, the name gets a new one, so this
 * enrolment's certificate is never mapped again.
 */
export async function removeSite(home: ManagerHome, site: string): Promise<LiveOutcome> {
  checkSiteName(site);
  if (!home.sites.includes(site)) throw new Error(`no site named '${site}'`);
  home.sites = home.sites.filter((s) => s !== site);
  writeFileSync(path.join(home.dir, 'sites.json'), `${JSON.stringify(home.sites)}\n`);
  const live = await reloadHub(home);
  const links = live === 'reloaded' ? await cutRemovedLinks(home) : null;
  rmSync(path.join(home.dir, 'sites', site), { recursive: true, force: true });
  dropSiteKey(home.pki, site, generationOf(home, site));
  return { live, links };
}

/**
 * Revoke a still-enrolled site's key (stolen, or suspected): a new generation and its kit in the site's kit
 * folder, the hub reloaded to map only the new certificate, and the site's open links — all made with the old
 * one — closed. The site stays enrolled under its name, so its streams and state consumer, its records,
 * health and ladder state at the manager are kept; it reconnects once the new kit is installed there, and its
 * outbox delivers what it held meanwhile. The old generation's private key is forgotten.
 */
export async function rekeySite(
  home: ManagerHome,
  site: string,
): Promise<LiveOutcome & { kit: SiteKit; generation: number; previous: number }> {
  const previous = generationOf(home, site);
  const kit = newSiteKey(home, site);
  const live = await reloadHub(home);
  const links = live === 'reloaded' ? await cutRemovedLinks(home, [site]) : null;
  dropSiteKey(home.pki, site, previous);
  return { live, links, kit, generation: kit.generation, previous };
}
