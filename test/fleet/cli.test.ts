// `weir manager` and `weir node` as they run: separate processes, real nats-server processes, each site's
// nftables in a namespace of its own. A person blocks at site A with `weir enforce block`; the address lands in
// site B's kernel. Then crashes: the manager killed with SIGKILL while it takes in a stream of detections and
// a site killed mid-push; after restarts every acknowledged detection is there exactly once and state converges.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { canBuildLab } from '../lab/plant.js';
import { activate, approvedStore } from '../helpers/approved-store.js';
import { cli, person, weir } from '../helpers/weir-cli.js';
import { openFleetDb } from '../../src/fleet/fleet-db.js';
import { Outbox } from '../../src/fleet/outbox.js';
import { freePort, sleep, tempDir, until } from './fleet-kit.js';
import { restartablePort } from '../helpers/ports.js';

const POLICY = (n: number): string => `weir: policy/1
zones:
  - { name: sup, members: [10.78.0.0/28], mode: monitor }
  - { name: ctl${n}, members: [10.78.0.16/28], mode: enforce }
conduits: [{ name: c, from: sup, to: ctl${n} }]
groups:
  - { name: ews, conduit: c, clients: [10.78.0.0/28], servers: [ctl${n}], ports: [502], access: read-write }
`;

const namespaces: string[] = [];
const children = new Set<ChildProcess>();
const pidFiles: string[] = [];
after(() => {
  for (const c of children) c.kill('SIGKILL');
  // Their nats-servers outlive a SIGKILLed weir: end them by the pid they wrote.
  for (const f of pidFiles) killPidFile(f);
  for (const ns of namespaces) execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
});

/** Start a long-running weir command; resolves once it says it is ready. */
async function daemon(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ c: ChildProcess; err: () => string }> {
  const c = spawn(process.execPath, [cli, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.add(c);
  c.on('exit', () => children.delete(c));
  let err = '';
  c.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  await until(`${args[0]} ready`, () => {
    if (c.exitCode !== null) throw new Error(`${args.join(' ')} exited: ${err}`);
    return /ready/.test(err);
  });
  return { c, err: () => err };
}

/** A site's own store, with no baseline yet: blocks decided at other sites pass its baseline check. */
async function siteStore(dir: string, site: string): Promise<string> {
  const d = path.join(dir, `site-${site}`);
  mkdirSync(d);
  return (await approvedStore(d, POLICY(1))).db;
}

const step = (m: string): void => {
  if (process.env.FLEET_DEBUG) process.stderr.write(`${new Date().toISOString()} ${m}\n`);
};

const stop = (c: ChildProcess, sig: NodeJS.Signals = 'SIGTERM'): Promise<void> =>
  new Promise((r) => {
    if (c.exitCode !== null || c.signalCode !== null) return r();
    const t = setTimeout(() => c.kill('SIGKILL'), 8000);
    c.once('exit', () => {
      clearTimeout(t);
      r();
    });
    c.kill(sig);
  });

/** Kill -9 the nats-server that wrote this pid file (a crashed host takes its server down with it). */
function killPidFile(f: string): void {
  try {
    process.kill(Number(readFileSync(f, 'utf8').trim()), 'SIGKILL');
  } catch {
    // already gone
  }
}

function blocked(ns: string): string[] {
  try {
    const out = execFileSync(
      'ip',
      ['netns', 'exec', ns, 'nft', '-j', 'list', 'set', 'inet', 'weir', 'blocklist'],
      { encoding: 'utf8' },
    );
    const set = (
      JSON.parse(out) as { nftables: Array<{ set?: { elem?: unknown[] } }> }
    ).nftables.find((x) => x.set)?.set;
    return (set?.elem ?? []).map((e) =>
      typeof e === 'string' ? e : String((e as { elem: { val: string } }).elem.val),
    );
  } catch {
    return [];
  }
}

test(
  'weir manager and weir node: a block at site A reaches site B; kill -9 of manager and node loses nothing acknowledged',
  { timeout: 180_000 },
  async (t) => {
    if (!canBuildLab()) {
      if (process.env.CI === 'true') throw new Error('needs root and iproute2');
      return t.skip('needs root');
    }
    const tag = randomBytes(3).toString('hex');
    const dir = tempDir('fleet-cli');
    const mdir = path.join(dir, 'manager');
    const { auth, db: store } = await approvedStore(dir, POLICY(1));
    assert.equal((await weir(['manager', 'init', '--dir', mdir])).code, 0);
    for (const s of ['a', 'b']) {
      const r = await weir(['manager', 'site', 'add', s, '--dir', mdir, ...auth]);
      assert.equal(r.code, 0, r.stderr);
    }
    // The manager is killed and started again on these: not ports the OS hands out meanwhile.
    const listen = `127.0.0.1:${await restartablePort()}`;
    const leaf = `127.0.0.1:${await restartablePort()}`;
    pidFiles.push(path.join(mdir, 'hub.pid'));
    const mgrArgs = ['manager', 'run', '--dir', mdir, '--listen', listen, '--leaf', leaf];
    let mgr = await daemon(mgrArgs);
    const nodes: Record<
      string,
      { ns: string; dir: string; args: string[]; d: Awaited<ReturnType<typeof daemon>> }
    > = {};
    for (const s of ['a', 'b']) {
      const ns = `weir-fc-${s}-${tag}`;
      execFileSync('ip', ['netns', 'add', ns]);
      namespaces.push(ns);
      const ndir = path.join(dir, `node-${s}`);
      pidFiles.push(path.join(ndir, 'leaf.pid'));
      const args = [
        'node',
        '--site',
        s,
        '--kit',
        path.join(mdir, 'sites', s),
        '--dir',
        ndir,
      ].concat([
        '--hub',
        `nats-leaf://${leaf}`,
        '--listen',
        String(await freePort()),
        '--netns',
        ns,
        '--db',
        await siteStore(dir, s),
      ]);
      nodes[s] = { ns, dir: ndir, args, d: await daemon(args) };
    }
    const A = nodes.a!;
    const B = nodes.b!;
    // What goes out is the store's active (approved) policy, never a file named on the command line.
    const push = await weir(['manager', 'policy', 'push', '--dir', mdir, ...auth]);
    assert.equal(push.code, 0, push.stderr);
    assert.match(push.stdout, /pushed to every site as v1/);
    await until(
      'policy v1 at both sites',
      () => /applied policy v1/.test(A.d.err()) && /applied policy v1/.test(B.d.err()),
    );

    // A person at site A blocks an address with the ordinary command; the site's node sends it fleet-wide.
    const blk = await weir(
      ['block', '10.78.0.66', '--ttl', '10m', '--family', 'inet', '--netns', A.ns, ...auth],
      { env: { WEIR_FLEET_NODE: A.dir } },
    );
    assert.equal(blk.code, 0, blk.stderr);
    assert.ok(blocked(A.ns).includes('10.78.0.66'));
    await until(
      '10.78.0.66 in site B nftables',
      () => blocked(B.ns).includes('10.78.0.66'),
      10_000,
    );
    // And from the manager, to every site.
    const mb = await weir([
      'manager',
      'block',
      '10.78.0.99',
      '--ttl',
      '1h',
      '--dir',
      mdir,
      '--reason',
      'known bad',
      ...auth,
    ]);
    assert.equal(mb.code, 0, mb.stderr);
    await until(
      '10.78.0.99 at both sites',
      () => blocked(A.ns).includes('10.78.0.99') && blocked(B.ns).includes('10.78.0.99'),
      10_000,
    );

    // Crash 1: the manager killed with SIGKILL while site A's detections stream in.
    const outbox = new Outbox(openFleetDb(path.join(A.dir, 'node.db')), 'a');
    const total = 3000;
    const feeding = (async () => {
      for (let n = 0; n < total; n++) {
        outbox.add('detection', { n });
        if (n % 100 === 99) await sleep(20);
      }
    })();
    // A fresh connection for each look: the manager process writing it is killed and restarted under us.
    const mdb = {
      prepare: (sql: string) => ({
        get: (...a: unknown[]) => withDb((d) => d.prepare(sql).get(...a)),
        all: (...a: unknown[]) => withDb((d) => d.prepare(sql).all(...a)),
      }),
      close: () => undefined,
    };
    function withDb<T>(f: (d: Database.Database) => T): T {
      const d = new Database(path.join(mdir, 'manager.db'), { timeout: 1000 });
      try {
        return f(d);
      } finally {
        d.close();
      }
    }
    const count = (): number =>
      (
        mdb
          .prepare(
            "SELECT count(*) AS n FROM fleet_records WHERE site = 'a' AND kind = 'detection'",
          )
          .get() as { n: number }
      ).n;
    step('ingest under way');
    await until('ingest under way', () => count() > 300);
    await stop(mgr.c, 'SIGKILL'); // the manager process; its hub nats-server goes with it below
    killPidFile(path.join(mdir, 'hub.pid'));
    const atCrash = count();
    assert.ok(atCrash < total, 'killed mid-ingest');
    await sleep(1000);
    mgr = await daemon(mgrArgs);

    // Crash 2: site B killed with SIGKILL just as a policy push goes out; it comes back and catches up.
    activate(store, POLICY(2));
    const pushing = weir(['manager', 'policy', 'push', '--dir', mdir, ...auth]);
    await sleep(30);
    await stop(B.d.c, 'SIGKILL');
    killPidFile(path.join(B.dir, 'leaf.pid'));
    assert.equal((await pushing).code, 0);
    await feeding;
    B.d = await daemon(B.args);
    await until(
      'site B at policy v2 after its restart',
      () => /applied policy v2/.test(B.d.err()),
      20_000,
    );
    step('site A at policy v2');
    await until('site A at policy v2', () => /applied policy v2/.test(A.d.err()), 20_000);
    step('every detection at the manager');
    await until('every detection at the manager', () => count() >= total, 30_000).catch(
      (e: Error) => {
        throw new Error(
          `${e.message}: ${count()} at the manager, ${outbox.pending} waiting at site A; node A: ${A.d.err().slice(-600)}`,
        );
      },
    );
    await sleep(1000);
    const ns = (
      mdb
        .prepare("SELECT body FROM fleet_records WHERE site = 'a' AND kind = 'detection'")
        .all() as Array<{ body: string }>
    ).map((r) => (JSON.parse(r.body) as { n: number }).n);
    assert.equal(ns.length, total, 'none twice');
    assert.deepEqual(
      [...ns].sort((x, y) => x - y),
      Array.from({ length: total }, (_, i) => i),
      'none lost',
    );
    // Converged: both sites hold the blocks and the same policy.
    assert.ok(blocked(B.ns).includes('10.78.0.66') && blocked(B.ns).includes('10.78.0.99'));
    // The manager's operator lifts it at every site (a site lifts only its own: site-block-rogue.test).
    const mu = await weir(['manager', 'unblock', '10.78.0.99', '--dir', mdir, ...auth]);
    assert.equal(mu.code, 0, mu.stderr);
    await until(
      '10.78.0.99 lifted at both sites',
      () => !blocked(A.ns).includes('10.78.0.99') && !blocked(B.ns).includes('10.78.0.99'),
      10_000,
    );
    mdb.close();
    for (const n of [A, B]) await stop(n.d.c);
    await stop(mgr.c);
    for (const n of [A, B])
      execFileSync('ip', ['netns', 'exec', n.ns, 'nft', 'delete', 'table', 'inet', 'weir'], {
        stdio: 'ignore',
      });
  },
);

test('change control holds fleet-wide: manager policy push sends only the active policy, never a file; a node without its baseline check does not start', async () => {
  const dir = tempDir('fleet-cc');
  const mdir = path.join(dir, 'manager');
  assert.equal((await weir(['manager', 'init', '--dir', mdir])).code, 0);
  // A person allowed to enforce, in a store where change control has approved nothing yet.
  const db = path.join(dir, 'weir.db');
  const token = await person(db, dir, 'root', ['admin'], { admin: '' });
  const auth = ['--db', db, '--token-file', token];
  const nothing = await weir(['manager', 'policy', 'push', '--dir', mdir, ...auth]);
  assert.notEqual(nothing.code, 0);
  assert.match(
    nothing.stderr,
    /no active policy in this store: propose, simulate, approve and apply/,
  );
  const file = path.join(dir, 'any.yaml');
  writeFileSync(file, POLICY(9));
  const named = await weir(['manager', 'policy', 'push', file, '--dir', mdir, ...auth]);
  assert.notEqual(named.code, 0, 'a policy file is not taken');
  assert.match(named.stderr, /too many arguments/);
  const node = await weir([
    'node',
    '--site',
    'a',
    '--kit',
    path.join(mdir, 'sites', 'a'),
    '--dir',
    path.join(dir, 'node'),
    '--hub',
    'nats-leaf://127.0.0.1:1',
  ]);
  assert.notEqual(node.code, 0);
  assert.match(node.stderr, /--db: this site's store/);
});
