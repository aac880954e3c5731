// The fleet (issue 15) under load, on one hub server and on a 3-server cluster with JetStream replicas 3:
// 1. block propagation: FleetBackend.block at site A → the element in site B's nftables blocklist (network
//    namespaces, real leaf nodes with mTLS, `nft monitor` in B's namespace stamping each element's arrival);
// 2. manager ingest: 100 simulated sites, each its own NATS client connection with its own site user and
//    subjects and its own outbox (sqlite), sending detections; records/s stored and publish → stored lag.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { NftBackend } from '../src/enforce/nft-backend.js';
import { openFleetDb, type FleetDb } from '../src/fleet/fleet-db.js';
import { generationOf, openHome, readSiteKit } from '../src/fleet/home.js';
import { NodeRuntime } from '../src/fleet/node-runtime.js';
import { Outbox } from '../src/fleet/outbox.js';
import type { SiteEnvelope } from '../src/fleet/outbox.js';
import { siteUser } from '../src/fleet/pki.js';
import { HUB_DOMAIN, siteInbox } from '../src/fleet/subjects.js';
import { canBuildLab } from '../test/lab/plant.js';
import { freePort, sleep } from '../test/fleet/fleet-kit.js';
import { startHub, type Topology } from './fleet-hub.js';
import { NFT_STAMP_SCRIPT, recordBlocklistArrivals } from './blocklist-arrivals.js';
import { machine, median, today, writeSection } from './results.js';

const nowMs = (): number => performance.timeOrigin + performance.now();

function pct(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

const POLICY = `weir: policy/1
zones:
  - { name: sup, members: [10.78.0.0/28], mode: monitor }
  - { name: ctl, members: [10.78.0.16/28], mode: enforce }
conduits: [{ name: c, from: sup, to: ctl }]
groups:
  - { name: ews, conduit: c, clients: [10.78.0.0/28], servers: [ctl], ports: [502], access: read-write }
`;

/** `nft monitor new elements` in a namespace, each blocklist element's arrival stamped into `seen`. */
function elementMonitor(ns: string, seen: Map<string, number>): ChildProcess {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', NFT_STAMP_SCRIPT], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  recordBlocklistArrivals(child.stdout!, seen);
  return child;
}

interface Propagation {
  local: number[];
  manager: number[];
  remote: number[];
  missed: number;
}

async function propagation(topology: Topology, trials: number): Promise<Propagation> {
  const tag = randomBytes(3).toString('hex');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'weir-bench-fleet-'));
  const stops: Array<() => Promise<void> | void> = [];
  const atManager = new Map<string, number>();
  try {
    const hub = await startHub(topology, path.join(dir, 'manager'), ['a', 'b'], (site, env) => {
      const body = env.body as { address?: string };
      if (env.kind === 'block' && body.address) atManager.set(body.address, nowMs());
    });
    stops.push(() => hub.stop());
    const sites: Record<string, { rt: NodeRuntime; ns: string; applied: number }> = {};
    for (const s of ['a', 'b']) {
      const ns = `weir-fb-${s}-${tag}`;
      execFileSync('ip', ['netns', 'add', ns]);
      stops.push(() => void execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' }));
      const sdir = path.join(dir, `site-${s}`);
      mkdirSync(sdir, { recursive: true });
      const nft = new NftBackend({ family: 'inet', netns: ns }, path.join(sdir, 'state'), {
        persistent: true,
      });
      const site = { rt: null as unknown as NodeRuntime, ns, applied: 0 };
      site.rt = await NodeRuntime.start({
        kit: readSiteKit(s, path.join(dir, 'manager', 'sites', s)),
        dir: sdir,
        client: { host: '127.0.0.1', port: await freePort() },
        hubUrls: hub.leafUrls,
        local: nft,
        log: () => undefined,
        onApplied: (d) => {
          if (d.kind === 'policy') site.applied = d.version;
        },
      });
      stops.push(async () => {
        await site.rt.stop();
        nft.remove('bench');
        nft.close();
      });
      sites[s] = site;
    }
    await hub.mgr.manager.publish('policy', () => ({ text: POLICY, source: 'plant.yaml' }));
    for (let i = 0; i < 200 && (sites.a!.applied < 1 || sites.b!.applied < 1); i++) await sleep(50);
    if (sites.a!.applied < 1 || sites.b!.applied < 1) throw new Error('policy not loaded');
    const inB = new Map<string, number>();
    const mon = elementMonitor(sites.b!.ns, inB);
    stops.push(() => void mon.kill('SIGTERM'));
    await sleep(500);
    const r: Propagation = { local: [], manager: [], remote: [], missed: 0 };
    for (let i = 0; i < trials; i++) {
      const ip = `10.78.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`;
      const t0 = nowMs();
      await sites.a!.rt.backend.block(ip, 600, `bench trial ${i}`);
      const tLocal = nowMs();
      for (let k = 0; k < 200 && !inB.has(ip); k++) await sleep(5);
      if (!inB.has(ip)) {
        r.missed++;
        continue;
      }
      r.local.push(tLocal - t0);
      r.manager.push((atManager.get(ip) ?? NaN) - t0);
      r.remote.push(inB.get(ip)! - t0);
      await sleep(100);
    }
    return r;
  } finally {
    for (const s of stops.reverse()) await Promise.resolve(s()).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Ingest {
  sites: number;
  paced: Array<{ offered: number; seconds: number; stored: number; lag: number[] }>;
  burst: {
    records: number;
    seconds: number;
    hubSeconds: number;
    lag: number[];
    /** manager.db transactions the burst took. */
    transactions: number;
  };
  /** Records published straight into JetStream (no site outbox): the manager's own rate, batched and not. */
  direct: Array<{ maxBatch: number; records: number; seconds: number; transactions: number }>;
}

async function ingest(topology: Topology, nSites: number, rates: number[]): Promise<Ingest> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'weir-bench-fleet-ingest-'));
  const names = Array.from({ length: nSites }, (_, i) => `s${String(i).padStart(3, '0')}`);
  let lags: number[] = [];
  let lastStored = 0;
  const stops: Array<() => Promise<void>> = [];
  try {
    const hub = await startHub(topology, path.join(dir, 'manager'), names, (_s, env) => {
      if (env.kind !== 'detection') return;
      lastStored = Date.now();
      lags.push(lastStored - env.at);
    });
    stops.push(() => hub.stop());
    const sites: Array<{ nc: NatsConnection; db: FleetDb; outbox: Outbox }> = [];
    const home = openHome(path.join(dir, 'manager'));
    for (const [i, s] of names.entries()) {
      // Each site as its own client of the hub, as its own site user (the permissions of its leaf link).
      const nc = await connect({
        servers: [hub.clientUrls[i % hub.clientUrls.length]!],
        user: siteUser(s, generationOf(home, s)),
        inboxPrefix: siteInbox(s),
        name: `bench-site-${s}`,
        maxReconnectAttempts: -1,
      });
      const db = openFleetDb(path.join(dir, `${s}.db`));
      const outbox = new Outbox(db, s, { log: () => undefined });
      outbox.start(nc.jetstream({ domain: HUB_DOMAIN }));
      sites.push({ nc, db, outbox });
      stops.push(async () => {
        await outbox.stop();
        await nc.close();
        db.close();
      });
    }
    const stored = (): number => lags.length;
    const detection = (site: number, n: number): SiteEnvelope['body'] => ({
      type: 'port_scan',
      n,
      src: `10.${site}.0.1`,
    });
    // Paced: every 100 ms each site adds its share of the offered rate, for 10 s, at each rate in turn.
    const paced: Ingest['paced'] = [];
    for (const ratePerS of rates) {
      lags = [];
      const seconds = 10;
      const perTick = ratePerS / 10 / nSites + 1e-9; // (0.1 summed ten times is not 1)
      let owed = 0;
      let offered = 0;
      const t0 = Date.now();
      for (let tick = 0; tick < seconds * 10; tick++) {
        owed += perTick;
        const k = Math.floor(owed);
        owed -= k;
        for (const [i, s] of sites.entries())
          for (let j = 0; j < k; j++) s.outbox.add('detection', detection(i, offered++));
        const next = t0 + (tick + 1) * 100;
        await sleep(Math.max(0, next - Date.now()));
      }
      for (let w = 0; w < 1200 && stored() < offered; w++) await sleep(50);
      paced.push({ offered, seconds, stored: stored(), lag: lags });
    }
    // Burst: 100 records at every site at once; how fast the manager stores them all.
    lags = [];
    const per = 100;
    const batches0 = hub.mgr.manager.ingestBatches;
    const b0 = Date.now();
    for (const [i, s] of sites.entries())
      for (let j = 0; j < per; j++) s.outbox.add('detection', detection(i, j));
    // When JetStream had acknowledged every site's records (the hub's side), apart from the manager's storing.
    let hubAll = NaN;
    for (let w = 0; w < 1200 && stored() < per * nSites; w++) {
      await sleep(50);
      if (Number.isNaN(hubAll) && sites.every((s) => s.outbox.pending === 0)) hubAll = Date.now();
    }
    // Acknowledged and stored within the same poll: the acknowledgements came no later than this.
    if (Number.isNaN(hubAll)) hubAll = Date.now();
    const burst = {
      records: stored(),
      seconds: (lastStored - b0) / 1000,
      hubSeconds: (hubAll - b0) / 1000,
      lag: lags,
      transactions: hub.mgr.manager.ingestBatches - batches0,
    };
    // The manager alone: records pipelined straight into JetStream by one site connection, so the sites'
    // per-record commits are out of the way; a transaction per batch, then a commit per record, same run.
    const direct: Ingest['direct'] = [];
    const js = sites[0]!.nc.jetstream({ domain: HUB_DOMAIN });
    for (const maxBatch of [1000, 1]) {
      hub.mgr.manager.ingestMaxBatch = maxBatch;
      lags = [];
      const n = 5000;
      const t0 = Date.now();
      const tx0 = hub.mgr.manager.ingestBatches;
      for (let k = 0; k < n; k += 500) {
        const acks = [];
        for (let j = k; j < k + 500; j++) {
          const id = `${names[0]}:direct-${maxBatch}-${j}`;
          const env = { id, at: Date.now(), kind: 'detection', body: detection(0, j) };
          acks.push(
            js.publish(`weir.site.${names[0]}.detection`, Buffer.from(JSON.stringify(env)), {
              msgID: id,
            }),
          );
        }
        await Promise.all(acks);
      }
      for (let w = 0; w < 2400 && stored() < n; w++) await sleep(50);
      direct.push({
        maxBatch,
        records: stored(),
        seconds: (lastStored - t0) / 1000,
        transactions: hub.mgr.manager.ingestBatches - tx0,
      });
    }
    hub.mgr.manager.ingestMaxBatch = 1000;
    return { sites: nSites, paced, burst, direct };
  } finally {
    for (const s of stops.reverse()) await s().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One durable record at a site: Outbox.add is one SQLite commit (WAL, synchronous = FULL: an fsync each). */
function commitCost(n = 200): number {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'weir-bench-fleet-commit-'));
  try {
    const db = openFleetDb(path.join(dir, 'x.db'));
    const outbox = new Outbox(db, 'x', { log: () => undefined });
    const t0 = nowMs();
    for (let i = 0; i < n; i++) outbox.add('detection', { type: 'port_scan', n: i });
    const ms = (nowMs() - t0) / n;
    db.close();
    return ms;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const f1 = (x: number): string => (Number.isNaN(x) ? '–' : x.toFixed(1));

export async function recordFleet(trials: number): Promise<void> {
  if (!canBuildLab()) throw new Error('the fleet benchmark needs root to build network namespaces');
  const topologies: Topology[] = ['one server', '3-server cluster, R3'];
  const rates = (process.env.BENCH_FLEET_RATES ?? '100,300').split(',').map(Number);
  const nSites = Number(process.env.BENCH_FLEET_SITES ?? 100);
  const prop: Array<[Topology, Propagation]> = [];
  const ing: Array<[Topology, Ingest, number]> = [];
  const load: string[] = [];
  const commitMs = commitCost();
  // Rounds interleave the topologies so the machine's noise (other sessions' CPU and disk) hits both alike.
  const rounds = Number(process.env.BENCH_FLEET_ROUNDS ?? 3);
  for (let round = 1; round <= rounds; round++)
    for (const t of topologies) {
      const r = await propagation(t, trials);
      const pooled = prop.find(([x]) => x === t)?.[1];
      if (pooled === undefined) prop.push([t, r]);
      else {
        pooled.local.push(...r.local);
        pooled.manager.push(...r.manager);
        pooled.remote.push(...r.remote);
        pooled.missed += r.missed;
      }
      console.log(`fleet ${t} round ${round}: propagation p50 ${f1(pct(r.remote, 50))} ms`);
      const g = await ingest(t, nSites, rates);
      ing.push([t, g, round]);
      console.log(
        `fleet ${t} round ${round}: burst ${Math.round(g.burst.records / g.burst.seconds)} records/s, paced lag p99 ${g.paced.map((p) => f1(pct(p.lag, 99))).join(' / ')} ms`,
      );
      load.push(
        `round ${round} ${t}: ${os
          .loadavg()
          .map((l) => l.toFixed(1))
          .join(', ')}`,
      );
    }
  const pRow = (t: Topology, name: string, xs: number[]): string =>
    `| ${t} | ${name} | ${xs.length} | ${f1(pct(xs, 50))} | ${f1(pct(xs, 99))} | ${f1(Math.min(...xs))} | ${f1(Math.max(...xs))} |`;
  const propTable = prop
    .flatMap(([t, r]) => [
      pRow(t, 'A: local nft add + outbox record (block() returns)', r.local),
      pRow(t, 'manager: signed blocklist put and block record stored', r.manager),
      pRow(t, "**B: element in B's kernel blocklist**", r.remote),
    ])
    .join('\n');
  const iRows = ([t, g, round]: [Topology, Ingest, number]): string[] => [
    ...g.paced.map(
      (p) =>
        `| ${t} | ${round} | paced, ${Math.round(p.offered / p.seconds)}/s offered for ${p.seconds} s | ${p.offered} | ${p.stored} | – | – | – | ${f1(pct(p.lag, 50))} | ${f1(pct(p.lag, 99))} |`,
    ),
    `| ${t} | ${round} | burst, 100 at every site at once | ${g.sites * 100} | ${g.burst.records} | ${Math.round(g.burst.records / g.burst.hubSeconds).toLocaleString('en-US')} | ${Math.round(g.burst.records / g.burst.seconds).toLocaleString('en-US')} | ${g.burst.transactions} | ${f1(pct(g.burst.lag, 50))} | ${f1(pct(g.burst.lag, 99))} |`,
  ];
  const p99 = (t: Topology): number => pct(prop.find(([x]) => x === t)![1].remote, 99);
  writeSection(
    'fleet: block propagation and manager ingest',
    `## fleet: block propagation and manager ingest (${today()})

Machine: ${machine()}. **Shared with other sessions while measured (2 cores, several people)**: read the medians;
p99 on this machine is mostly scheduling noise. Load average (1, 5, 15 min) after each topology and round: ${load.join('; ')}.
Everything (hub servers, leaf nodes, manager, sites) runs on this one machine, the manager and the sites' Node code in
the bench's one process: the cluster's three servers share the same 2 cores, so this measures what replication
costs in round trips and CPU, not what it buys in fault tolerance.

Topologies: **one server** is the hub \`weir manager run\` starts (JetStream, file storage, R1). **3-server cluster, R3**
is three local nats-server processes joined by cluster routes (src/fleet/nats-config.ts \`cluster\`), with the site
stream and the state bucket at 3 replicas (\`replicas\` of the manager): every stream write and KV put is acknowledged
only once a quorum (2 of 3) has it.

### 1. Block propagation, site A → site B's kernel (${trials} trials per round, ${rounds} rounds, pooled)

Sites A and B are real \`weir node\` runtimes (leaf nats-server with mTLS to the hub, outbox, state follower) with
nftables in network namespaces of their own (persistent \`nft -i\` session). Each trial blocks a new address through
site A's FleetBackend. The path: A's local nft add (A contains at once, the manager not awaited) → A's outbox (sqlite)
→ A's leaf → hub stream WEIR_SITES → the manager's durable consumer → a new blocklist version signed (Ed25519) and
put in the KV bucket WEIR_STATE (conditional on the last revision) → B's follower's own pull consumer (weir-site-B) through its leaf →
signature check → B's nft add. Clock: from the \`block()\` call at A to \`nft monitor new elements\` in B's
namespace announcing the element (stamped by a process that does nothing else; same machine clock). Milliseconds.

| hub | step (time from the decision at A) | trials | p50 | p99 | min | max |
| --- | --- | ---: | ---: | ---: | ---: | ---: |
${propTable}

Target p99 ≤ 50 ms (A → B kernel): one server **${f1(p99('one server'))} ms, ${p99('one server') <= 50 ? 'met' : 'missed'}**; 3-server cluster **${f1(p99('3-server cluster, R3'))} ms, ${p99('3-server cluster, R3') <= 50 ? 'met' : 'missed'}**. Missed trials (no element at B within 1 s): ${prop.map(([t, r]) => `${t} ${r.missed}`).join(', ')}.
Each blocklist version carries every live entry and B re-adds them all (idempotent nft adds), so a trial late in
a round applies up to ${trials} elements (each round starts a fresh fleet): the cost grows with the blocklist's length.

### 2. Manager ingest, ${nSites} simulated sites

${nSites} sites, each **a NATS client connection straight to the hub** (spread over the cluster's servers) as its own
site user (\`CN=site-…\`, with the publish/subscribe permissions of that site's leaf link) and its own outbox
(its own sqlite file, records published to JetStream with their id as Nats-Msg-Id, exactly as a node does). Not 100
leaf nodes: 100 more nats-server processes do not fit this 2-core shared machine. (That works because the hub
admits a site user on its plain client port without a password; the site users are meant for the leaf port's mTLS
only, which \`allowed_connection_types: ["LEAF"]\` on them would enforce. With that fix this bench needs the sites
on TLS client certificates instead.) Lag: from the record's time at the
site (\`at\`, set when the outbox stores it) to the manager having stored it in manager.db (\`onRecord\`).
Paced: the offered rate spread evenly over the sites in 100 ms ticks for 10 s (a rate above what the manager stores
shows as growing lag). Burst: 100 detections at every site
at once; stored/s is records over the time from the burst to the last one stored (the sustained ingest rate).

| hub | round | load | records | stored | acked by JetStream/s | stored by the manager/s | manager transactions | lag p50 ms | lag p99 ms |
| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${[...ing]
  .sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : x[2] - y[2]))
  .flatMap(iRows)
  .join('\n')}

The manager alone: 5,000 records pipelined straight into JetStream by one site's connection (no site outbox, so
the sites' per-record commits are not the bound), stored with a transaction per batch and, right after in the same
run, with a transaction per record (\`maxBatch\` 1):

| hub | round | transaction per | records | stored by the manager/s | manager transactions |
| --- | ---: | --- | ---: | ---: | ---: |
${[...ing]
  .sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : x[2] - y[2]))
  .flatMap(([t, g, round]) =>
    g.direct.map(
      (d) =>
        `| ${t} | ${round} | ${d.maxBatch === 1 ? 'record' : 'batch (up to 1,000)'} | ${d.records} | ${Math.round(d.records / d.seconds).toLocaleString('en-US')} | ${d.transactions} |`,
    ),
  )
  .join('\n')}

Batched over per-record, stored/s ratio per round: ${topologies
      .map(
        (t) =>
          `${t} **${ing
            .filter((x) => x[0] === t)
            .map(
              ([, g]) =>
                `${(g.direct[0]!.records / g.direct[0]!.seconds / (g.direct[1]!.records / g.direct[1]!.seconds)).toFixed(1)}×`,
            )
            .join(', ')}**`,
      )
      .join('; ')}.

Burst stored/s, median of the ${rounds} rounds: ${topologies.map((t) => `${t} **${Math.round(median(ing.filter((x) => x[0] === t).map(([, g]) => g.burst.records / g.burst.seconds))).toLocaleString('en-US')}**`).join(', ')}.

How the manager stores: each batch the consumer hands over (up to 1,000 records) is one manager.db transaction
(\`synchronous = FULL\`: one fsync per batch, not per record), acknowledged to JetStream only after it commits
(src/fleet/ingest.ts); exactly-once stays with the Nats-Msg-Id dedupe and the insert by record id. The sites still
make one durable commit per record (Outbox.add): **${commitMs.toFixed(2)} ms** each here (mean of 200, this run; it
varies by an order of magnitude with the other sessions' disk use). "manager transactions" is how many the burst
took: records per transaction is the batching at work. Before batching (the recording of 2026-11-27, one commit per
record and a second for the site's row, same bench, same machine, also shared): burst stored/s one server 1,559,
3-server cluster 862 (medians of 3 rounds), and on one server the manager, not JetStream, was the bound.
`,
  );
}
