// Manager ingest with 100 simulated sites and one flooding site among them (issue 15), this build beside an
// earlier one (BENCH_BEFORE=path/to/its/dist, e.g. /work/peer-main/dist): the earlier manager read every site
// through one consumer in stream order, this one reads each site through its own at its own rate. Each site is a
// real NATS client connection as its own site user publishing into JetStream (no outbox commit per record); the
// flooding site publishes straight into JetStream as fast as it is acknowledged (a compromised node).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { addSite, generationOf, openHome } from '../src/fleet/home.js';
import type { ManagerRunOptions, ManagerRuntime } from '../src/fleet/manager-runtime.js';
import type { SiteEnvelope } from '../src/fleet/outbox.js';
import { siteUser } from '../src/fleet/pki.js';
import { HUB_DOMAIN, siteInbox } from '../src/fleet/subjects.js';
import { freePort, sleep } from '../test/fleet/fleet-kit.js';
import { machine, median, root, today, writeSection } from './results.js';

type Start = (o: ManagerRunOptions) => Promise<ManagerRuntime>;

/** Publish detections as site flood, 500 in flight, for FLOOD_MS; print how many JetStream acknowledged. */
const FLOOD_SCRIPT = `
import { connect } from 'nats';
const nc = await connect({ servers: process.env.FLOOD_URL, user: process.env.FLOOD_USER, inboxPrefix: process.env.FLOOD_INBOX });
const js = nc.jetstream({ domain: '${HUB_DOMAIN}' });
const end = Date.now() + Number(process.env.FLOOD_MS);
let n = 0, ok = 0;
while (Date.now() < end) {
  const acks = [];
  for (let j = 0; j < 500; j++) {
    const id = 'flood:f-' + (Number(process.env.FLOOD_FROM) + n++);
    const env = { id, at: Date.now(), kind: 'detection', body: { n } };
    acks.push(js.publish('weir.site.flood.detection', Buffer.from(JSON.stringify(env)), { msgID: id }).then(() => ok++, () => undefined));
  }
  await Promise.all(acks);
}
process.stdout.write(String(ok) + '\\n');
await nc.close();
`;

function pct(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

interface Run {
  build: string;
  round: number;
  quiet: number[];
  flooded: number[];
  /** Records of the 100 sites stored before the wait for them ran out (of `offered`). */
  stored: number;
  offered: number;
  floodPublished: number;
  /** Flood records the manager stored while the 100 sites' records were being taken. */
  floodTakenDuring: number;
  /** From the flood's end to its last record stored (NaN: not within the wait). */
  floodCatchUpS: number;
  burstPerS: number;
  /** Flood records waiting in the stream when the 100 sites began (scenario 3). */
  backlogAtStart: number;
  backlogged: number[];
  load: string;
}

async function scenario(build: string, start: Start, round: number, seconds: number): Promise<Run> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'weir-bench-fleet-flood-'));
  const mdir = path.join(dir, 'manager');
  const names = Array.from({ length: 100 }, (_, i) => `s${String(i).padStart(3, '0')}`);
  const home = openHome(mdir);
  for (const s of [...names, 'flood']) addSite(home, s);
  let lags: number[] = [];
  let floodStored = 0;
  let lastFlood = 0;
  let stored = 0;
  const stops: Array<() => Promise<void>> = [];
  try {
    const client = { host: '127.0.0.1', port: await freePort() };
    const mgr = await start({
      dir: mdir,
      client,
      leaf: { host: '127.0.0.1', port: await freePort() },
      siteClients: true,
      log: () => undefined,
      onRecord: (site: string, env: SiteEnvelope) => {
        if (env.kind !== 'detection') return;
        if (site === 'flood') {
          floodStored++;
          lastFlood = Date.now();
          return;
        }
        stored++;
        lags.push(Date.now() - env.at);
      },
    });
    stops.push(() => mgr.stop());
    const conn = async (s: string): Promise<NatsConnection> => {
      const nc = await connect({
        servers: `127.0.0.1:${client.port}`,
        user: siteUser(s, generationOf(home, s)),
        inboxPrefix: siteInbox(s),
        maxReconnectAttempts: -1,
      });
      stops.push(() => nc.close());
      return nc;
    };
    // Each site publishes its detections itself (its id as Nats-Msg-Id, as its outbox would) and stamps them as
    // it sends: the site's own durable commit is left out so the hub and the manager are what is measured.
    const sites: Array<(body: unknown) => void> = [];
    let seq = 0;
    let floodSent = 0;
    for (const s of names) {
      const js = (await conn(s)).jetstream({ domain: HUB_DOMAIN });
      sites.push((body) => {
        const id = `${s}:b-${seq++}`;
        const env = { id, at: Date.now(), kind: 'detection', body };
        void js
          .publish(`weir.site.${s}.detection`, Buffer.from(JSON.stringify(env)), { msgID: id })
          .catch(() => undefined);
      });
    }
    // 300 records/s spread over the 100 sites in 100 ms ticks.
    const paced = async (): Promise<number> => {
      const t0 = Date.now();
      let offered = 0;
      for (let tick = 0; tick < seconds * 10; tick++) {
        for (let k = 0; k < 3; k++) {
          sites[(tick * 3 + k) % sites.length]!({ n: offered });
          offered++;
        }
        await sleep(Math.max(0, t0 + (tick + 1) * 100 - Date.now()));
      }
      return offered;
    };
    const waitStored = async (n: number): Promise<void> => {
      for (let w = 0; w < 1200 && stored < n; w++) await sleep(50);
    };
    // Every site heard from once first (a manager meets a site's consumer once, at its first record).
    for (const send of sites) send({ warmup: true });
    await waitStored(sites.length);
    lags = [];
    stored = 0;
    // 1. Quiet.
    const q = await paced();
    await waitStored(q);
    const quiet = lags;
    // 2. The same with the flood running meanwhile.
    lags = [];
    const before = stored;
    // The flood from a process of its own (a node of its own), so it does not take this process's turns.
    const runFlood = (): Promise<number> => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', FLOOD_SCRIPT], {
        cwd: root,
        stdio: ['ignore', 'pipe', 'inherit'],
        env: {
          ...process.env,
          FLOOD_URL: `127.0.0.1:${client.port}`,
          FLOOD_USER: siteUser('flood', generationOf(home, 'flood')),
          FLOOD_INBOX: siteInbox('flood'),
          FLOOD_MS: String(seconds * 1000),
          FLOOD_FROM: String(floodSent),
        },
      });
      let out = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      return new Promise<number>((resolve) =>
        child.once('exit', () => {
          const n = Number(out.trim());
          floodSent += 1_000_000;
          resolve(n);
        }),
      );
    };
    const flood = runFlood();
    const offered = await paced();
    const floodPublished = await flood;
    const floodEnd = Date.now();
    await waitStored(before + offered);
    const floodTakenDuring = floodStored;
    const flooded = lags;
    const storedNow = stored - before;
    for (let w = 0; w < 1800 && floodStored < floodPublished; w++) await sleep(50);
    const floodCatchUpS = floodStored >= floodPublished ? (lastFlood - floodEnd) / 1000 : NaN;
    // 3. A backlog: flood sends while the manager's intake is stopped (a manager restarting, or a site coming
    // back after a long cut with all it kept), then the intake starts and the 100 sites send while it is taken.
    const floodBefore = floodStored;
    await mgr.manager.stop();
    const backlogPublished = await runFlood();
    await mgr.manager.startIngest();
    const backlogAtStart = backlogPublished - (floodStored - floodBefore);
    lags = [];
    const before3 = stored;
    const offered3 = await paced();
    await waitStored(before3 + offered3);
    const backlogged = lags;
    for (let w = 0; w < 1800 && floodStored - floodBefore < backlogPublished; w++) await sleep(50);
    // 4. Burst: 100 at every site at once (the re-measure of bench/fleet.ts's burst, this bench's fleet).
    const b0 = Date.now();
    const s0 = stored;
    let lastAt = b0;
    for (const send of sites) for (let j = 0; j < 100; j++) send({ burst: j });
    for (let w = 0; w < 1200 && stored - s0 < 100 * sites.length; w++) {
      await sleep(20);
      if (stored > s0) lastAt = Date.now();
    }
    const burstPerS = (stored - s0) / ((lastAt - b0) / 1000);
    return {
      build,
      round,
      quiet,
      flooded,
      stored: storedNow,
      offered,
      floodPublished,
      floodTakenDuring,
      floodCatchUpS,
      burstPerS,
      backlogAtStart,
      backlogged,
      load: os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(', '),
    };
  } finally {
    for (const s of stops.reverse()) await s().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

const f1 = (x: number): string => (Number.isNaN(x) ? '–' : x.toFixed(1));
const f0 = (x: number): string => (Number.isNaN(x) ? '–' : Math.round(x).toLocaleString('en-US'));

export async function recordFleetFlood(): Promise<void> {
  const seconds = Number(process.env.BENCH_FLOOD_SECONDS ?? 8);
  const rounds = Number(process.env.BENCH_FLOOD_ROUNDS ?? 2);
  const builds: Array<[string, Start]> = [
    ['this build', (await import('../src/fleet/manager-runtime.js')).ManagerRuntime.start],
  ];
  const beforeDist = process.env.BENCH_BEFORE;
  if (beforeDist !== undefined) {
    const m = (await import(path.resolve(beforeDist, 'src/fleet/manager-runtime.js'))) as {
      ManagerRuntime: { start: Start };
    };
    builds.push([
      `before (${path.relative(root, beforeDist) || beforeDist})`,
      (o) => m.ManagerRuntime.start(o),
    ]);
  }
  const runs: Run[] = [];
  // Rounds interleave the builds so the shared machine's noise hits both alike.
  for (let round = 1; round <= rounds; round++)
    for (const [name, start] of builds) {
      const r = await scenario(name, start, round, seconds);
      runs.push(r);
      console.log(
        `fleet-flood ${name} round ${round}: lag p99 quiet ${f1(pct(r.quiet, 99))} ms, flooded ${f1(pct(r.flooded, 99))} ms; flood ${r.floodPublished} published, ${r.floodTakenDuring} taken meanwhile, caught up in ${f1(r.floodCatchUpS)} s; behind a backlog of ${r.backlogAtStart}: lag p99 ${f1(pct(r.backlogged, 99))} ms; burst ${f0(r.burstPerS)}/s`,
      );
    }
  const rows = runs
    .map(
      (r) =>
        `| ${r.build} | ${r.round} | ${r.load} | ${f1(pct(r.quiet, 50))} / ${f1(pct(r.quiet, 99))} | ${f1(pct(r.flooded, 50))} / ${f1(pct(r.flooded, 99))} | ${r.stored} of ${r.offered} | ${f0(r.floodPublished)} | ${f0(r.floodTakenDuring)} | ${f1(r.floodCatchUpS)} | ${f0(r.backlogAtStart)} | ${f1(pct(r.backlogged, 50))} / ${f1(pct(r.backlogged, 99))} | ${f0(r.burstPerS)} |`,
    )
    .join('\n');
  const med = (b: string, f: (r: Run) => number): string =>
    f1(median(runs.filter((r) => r.build === b).map(f)));
  writeSection(
    'fleet: ingest with a flooding site',
    `## fleet: ingest with a flooding site (${today()})

Machine: ${machine()}. **Shared with other sessions while measured (2 cores, up to 8 builds and their tests)**:
read medians and the comparison within a round, not the absolute numbers. Load average (1, 5, 15 min) after
each run is in the table. \`node dist/bench/fleet-flood.js\` (or \`BENCH_ONLY=fleet-flood npm run bench\`),
BENCH_BEFORE=${beforeDist ?? '(not set)'}; ${rounds} rounds, builds interleaved.

One hub nats-server as \`weir manager run\` starts it and the manager on it (this bench's process), 100 sites
s000–s099 each **its own NATS client connection as its own site user**, publishing its detections into JetStream
with their id as Nats-Msg-Id (as its outbox does, without the outbox's durable commit per record: on this shared
machine those commits, not the manager, bound the earlier runs at 150–214 records/s) and one more site, **flood**: a compromised node publishing detections straight into JetStream
as fast as they are acknowledged (500 in flight). Every run: (1) **quiet**: 300 records/s spread over the 100
sites for ${seconds} s; (2) **flooded**: the same while flood publishes for those ${seconds} s; (3) **behind a
backlog**: flood publishes for ${seconds} s while the manager's intake is stopped (a manager restarting, or a site
back from a long cut with everything it kept), then the intake starts and the 100 sites send as in (1) while the
manager works through flood's backlog; (4) **burst**: 100
records at every one of the 100 sites at once (stored/s by the manager: the re-measure of bench/fleet.ts's burst
without the sites' commits). Lag: from the
record's time at the site (set as it publishes) to the manager having stored it (\`onRecord\`), ms.
This build's limits are the defaults: 1,000 records/s per site after a burst of 10,000
(settings \`fleet.ingest_per_site_per_s\`, \`ingest_burst_per_site\`).

| build | round | load | quiet lag p50 / p99 | flooded lag p50 / p99 | 100 sites' records stored | flood published | flood stored meanwhile | flood caught up after (s) | flood backlog | lag p50 / p99 behind it | burst stored/s |
| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${rows}

Medians over the rounds, lag p99 of the 100 sites while flooded: ${builds.map(([b]) => `${b} **${med(b, (r) => pct(r.flooded, 99))} ms** (quiet ${med(b, (r) => pct(r.quiet, 99))} ms)`).join('; ')}.
Behind a backlog: ${builds.map(([b]) => `${b} **${med(b, (r) => pct(r.backlogged, 99))} ms**`).join('; ')}.
Burst stored/s: ${builds.map(([b]) => `${b} **${med(b, (r) => r.burstPerS)}**`).join('; ')}.

How it differs: the earlier manager took the stream in order through one consumer (pulls of 1,000); this one
pulls each site through its own consumer, flood held to its rate (its excess stays in the stream, unacknowledged,
counted as held on the sites page) and taken in full after it lets up ("caught up after": from the end of the flood
to its last record stored; – : not within 90 s). Exactly-once of the flood and the bound on what one site may hold
are shown by test/fleet/ingest-flood.test.ts, not here.
`,
  );
}

if (process.argv[1] !== undefined && import.meta.url.endsWith(path.basename(process.argv[1]))) {
  await recordFleetFlood();
  // A connection left reconnecting to a stopped server must not keep the bench running.
  process.exit(0);
}
