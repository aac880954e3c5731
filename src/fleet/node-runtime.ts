/**
 * `weir node --site NAME`: the site's leaf nats-server (local publish/subscribe that works with the hub away),
 * the site's outbox to the manager, the follower of the manager's signed state, and the site's enforcement
 * wrapped so that blocks decided here go fleet-wide. What the site captures runs through a SitePipeline
 * (site-pipeline.ts) whose playbooks act through `backend` and whose detections go out through `outbox`.
 */
import path from 'node:path';
import { connect, type NatsConnection } from 'nats';
import type { EnforcementBackend } from '../enforce/backend.js';
import { gatewaySummary } from '../enforce/state.js';
import { stateApplier, type ApplierOptions } from './apply-state.js';
import { FleetBackend } from './fleet-backend.js';
import { openFleetDb, type FleetDb } from './fleet-db.js';
import type { SiteKit } from './home.js';
import { leafConfig, type HostPort } from './nats-config.js';
import { NatsServer, within } from './nats-server.js';
import { Outbox } from './outbox.js';
import { trustedKeys } from './signed-doc.js';
import { StateFollower, type FollowerOptions } from './state-follower.js';
import { HUB_DOMAIN, siteInbox, STATE_KINDS } from './subjects.js';
import { captureRecord, zoneModes, type SiteCaptureRecord } from './site-view.js';
import { SitePublisher, type PublisherOptions } from './site-publisher.js';
import type { Db } from '../store/db.js';
import type { CaptureStatus } from '../capture/live.js';

export interface NodeRunOptions {
  kit: SiteKit;
  /** The site's own folder (node.db, leaf.conf, its log). */
  dir: string;
  /** Where the leaf listens for the site's processes (loopback). */
  client: HostPort;
  hubUrls: string[];
  /** The site's own enforcement. */
  local: EnforcementBackend;
  netns?: string;
  healthEveryMs?: number;
  log?: (m: string) => void;
  onApplied?: FollowerOptions['onApplied'];
  onRefused?: FollowerOptions['onRefused'];
  /** How often a document this site could not put into force is tried again (FollowerOptions). */
  retryNotAppliedMs?: number;
  /** Import a pushed advisory bundle into the site's store (see ApplierOptions.importBundle). */
  importBundle?: ApplierOptions['importBundle'];
  /** This site's gateway, which the manager's policies steer to (see ApplierOptions.gateway). */
  gateway?: ApplierOptions['gateway'];
  /** This site's guard on blocks decided elsewhere (see ApplierOptions.refuseBlock). */
  refuseBlock?: ApplierOptions['refuseBlock'];
  /** What this site never blocks, whoever decided the block (see ApplierOptions.neverBlock). */
  neverBlock?: ApplierOptions['neverBlock'];
  /** Waits between guard attempts while the site's store is locked (default 250 ms doubling to 10 s). */
  busyBackoff?: ApplierOptions['busyBackoff'];
  /** The outbox's memory hold while the disk refuses records (see OutboxOptions.holdMax). */
  outboxHoldMax?: number;
  /** The site's store: its inventory, incidents and audit log go to the manager (site-publisher.ts). */
  store?: Db;
  publish?: PublisherOptions;
}

export class NodeRuntime {
  private health: NodeJS.Timeout | null = null;
  private stopping = false;
  /** Guard attempts that found the site's store locked, since start. */
  guardBusy = 0;
  /**
   * The live capture's program, latest counters, state and when last heard of (set by `weir node -i` through
   * captureStatus/captureStopped), reported with the health.
   */
  capture: SiteCaptureRecord | null = null;

  private constructor(
    readonly site: string,
    readonly leaf: NatsServer,
    readonly nc: NatsConnection,
    readonly db: FleetDb,
    readonly outbox: Outbox,
    readonly follower: StateFollower,
    /** What the site's playbooks and CLI enforce through. */
    readonly backend: FleetBackend,
    readonly publisher: SitePublisher | null = null,
  ) {}

  static async start(o: NodeRunOptions): Promise<NodeRuntime> {
    const site = o.kit.site;
    const leaf = await NatsServer.start(
      path.join(o.dir, 'leaf.conf'),
      leafConfig({
        site,
        client: o.client,
        hubUrls: o.hubUrls,
        tls: o.kit.tls,
        pidFile: path.join(o.dir, 'leaf.pid'),
      }),
      { netns: o.netns, logFile: path.join(o.dir, 'leaf.log') },
    );
    const nc = await connect({
      servers: [`${o.client.host}:${o.client.port}`],
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      name: `weir-node-${site}`,
      // The hub sends this site's replies only under its own prefix (nats-config sitePermissions).
      inboxPrefix: siteInbox(site),
    });
    const db = openFleetDb(path.join(o.dir, 'node.db'));
    const outbox = new Outbox(db, site, { log: o.log, holdMax: o.outboxHoldMax });
    const js = nc.jetstream({ domain: HUB_DOMAIN });
    const say = o.log ?? ((m: string) => process.stderr.write(`weir: fleet: ${m}\n`));
    let rt: NodeRuntime | null = null;
    const follower = new StateFollower(db, outbox, {
      trusted: trustedKeys([o.kit.managerKeyPem]),
      apply: stateApplier(o.local, {
        site,
        refuseBlock: o.refuseBlock,
        neverBlock: o.neverBlock,
        busyBackoff: o.busyBackoff,
        stopping: () => rt?.stopping ?? false,
        // Not a refusal of the block: the document waits until this site can check it against its baseline.
        onGuardBusy: (address, attempt, waitMs, doc) => {
          if (rt !== null) rt.guardBusy++;
          if (attempt === 1 || attempt % 10 === 0) {
            say(
              `the site store is locked: the fleet block of ${address} (${doc.kind} v${doc.version}) waits for this site's baseline check; attempt ${attempt}, again in ${waitMs} ms`,
            );
            outbox.add('audit', {
              event: 'fleet.block.deferred',
              address,
              version: doc.version,
              attempt,
              message: `this site's store is locked: the block waits for the baseline check (retrying every ${waitMs} ms at most)`,
            });
          }
        },
        onBlockRefused: (address, reason, doc) => {
          say(`refused the fleet block of ${address} here: ${reason}`);
          outbox.add('audit', {
            event: 'fleet.block.refused',
            address,
            version: doc.version,
            message: reason,
          });
        },
        gateway: o.gateway ?? null,
        importBundle: o.importBundle ?? null,
        onBundleImported: (summary, doc) =>
          outbox.add('audit', {
            event: 'fleet.bundle.imported',
            version: doc.version,
            message: summary,
          }),
        onBundleRefused: (reason, message, doc) => {
          const say = o.log ?? ((m: string) => process.stderr.write(`weir: fleet: ${m}\n`));
          say(`refused the advisory bundle of bundle v${doc.version}: ${message}`);
          outbox.add('audit', {
            event: 'fleet.bundle.refused',
            version: doc.version,
            reason,
            message,
          });
        },
        onPortLevel: (groups, doc) => {
          const say = o.log ?? ((m: string) => process.stderr.write(`weir: fleet: ${m}\n`));
          say(
            `policy v${doc.version} enforced PORT-LEVEL ONLY for ${groups.map((g) => g.group).join(', ')}: no gateway at this site`,
          );
          outbox.add('audit', {
            event: 'fleet.policy.port_level',
            version: doc.version,
            groups,
            message: 'no gateway at this site (settings enforce.gateway_ip)',
          });
        },
        onPermitRefused: (permit, reason, doc) =>
          outbox.add('audit', {
            event: 'fleet.permit.refused',
            permit: permit.id,
            version: doc.version,
            message: reason,
          }),
      }),
      onApplied: o.onApplied,
      onRefused: o.onRefused,
      log: o.log,
      retryNotAppliedMs: o.retryNotAppliedMs,
    });
    outbox.start(js);
    follower.start(js);
    const publisher =
      o.store && new SitePublisher(o.store, db, outbox, { log: o.log, ...o.publish });
    publisher?.start();
    rt = new NodeRuntime(
      site,
      leaf,
      nc,
      db,
      outbox,
      follower,
      new FleetBackend(o.local, outbox),
      publisher ?? null,
    );
    const started = rt;
    started.beat();
    started.health = setInterval(() => started.beat(), o.healthEveryMs ?? 10_000);
    started.health.unref();
    return started;
  }

  /** The live capture's status as it reports it; a change of state goes to the manager at once. */
  captureStatus(s: CaptureStatus, at = Date.now()): void {
    const was = this.capture?.state;
    // A capture stopped stays stopped: its closing counters may still come after the stop was said.
    if (was === 'stopped') {
      if (s.counters !== null) this.capture = { ...this.capture!, counters: s.counters };
      return;
    }
    this.capture = captureRecord(s, at);
    if (was !== undefined && was !== this.capture.state) this.beatNow();
  }

  /**
   * The live capture ended or never started (`program` names it when it never reported): stopped, with why, told
   * to the manager at once, so the sites page does not show the last counters of a capture that no longer runs.
   */
  captureStopped(reason: string, program: SiteCaptureRecord['program'], at = Date.now()): void {
    this.capture = {
      program: this.capture?.program ?? program,
      counters: this.capture?.counters ?? null,
      state: 'stopped',
      reason,
      at,
    };
    this.beatNow();
  }

  private beatNow(): void {
    if (!this.stopping) this.beat();
  }

  /** A health record for the manager's sites page: what this site enforces and how far behind it is. */
  private beat(): void {
    let enforcement: unknown = null;
    try {
      const s = this.backend.status();
      enforcement = {
        loaded: s.loaded,
        policy: s.applied?.sha ?? null,
        blocked: s.blocked.length,
        gateway: gatewaySummary(s.gateway),
        zones: s.loaded ? zoneModes(s.applied) : [],
      };
    } catch (e) {
      enforcement = { error: (e as Error).message };
    }
    this.outbox.add('health', {
      pending: this.outbox.pending,
      // Records the disk refused: held in memory (lost on a crash) and lost outright (the hold was full).
      atRisk: this.outbox.atRisk,
      lost: this.outbox.lost,
      diskError: this.outbox.diskError,
      guardBusy: this.guardBusy,
      stateRevision: this.follower.revision,
      applied: Object.fromEntries(
        STATE_KINDS.map((k) => [k, this.follower.applied(k)?.version ?? null]),
      ),
      // Newer versions the manager published that this site refused or could not put into force.
      notInForce: this.follower.notInForce(),
      enforcement,
      capture: this.capture,
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.health) clearInterval(this.health);
    this.publisher?.stop();
    await within(2000, this.follower.stop());
    await within(2000, this.outbox.stop());
    await within(2000, this.nc.close());
    await this.leaf.stop();
    this.db.close();
  }
}
