import { randomBytes } from 'node:crypto';
import type { Db } from '../store/db.js';
import { appendAudit } from '../store/audit-store.js';
import {
  activePlaybookBlock,
  countPlaybookActions,
  insertPlaybookAction,
  recentUndoneBlock,
  type PlaybookActionRow,
} from '../store/playbook-store.js';
import { SEVERITY_RANK, type Detection } from '../detect/detection.js';
import type { Baseline } from '../discover/baseline.js';
import type { CompiledBaseline } from '../detect/profile.js';
import type { Policy, Zone } from '../policy/model.js';
import type { Playbook, PlaybookActionKind } from '../policy/playbook-model.js';
import { CompiledPolicy } from '../policy/evaluate.js';
import { BlockGuard, type NeverBlockSource } from './playbook-guard.js';
import { permitName, type PlaybookKernel, type TemporaryPermit } from './playbook-kernel.js';
import { restsOnSpoofableProbes, spoofRefusal, SPOOFABLE_TYPES } from './spoofable.js';
import { PermitView } from './permit-view.js';

export interface PlaybookRunnerOptions {
  db: Db;
  /** The store's active policy (approved through change control) and its hash. */
  active: { policy: Policy; sha: string };
  /**
   * The baseline the detections were judged against: its flows are never cut by a playbook. Read at the start,
   * not kept (a live run would otherwise keep the whole parsed document for its lifetime).
   */
  baseline: Baseline;
  /** The detection engine's compiled baseline (`weir detect`): its asset set is shared, not built again. */
  compiled?: CompiledBaseline;
  kernel: PlaybookKernel;
  /**
   * Never blocked: the enforcement host, its gateway and routers, the manager, the subnets' network and broadcast
   * addresses. A function is asked again at each block (the host's addresses and gateway change while it runs).
   */
  protectedAddresses: NeverBlockSource;
  /** Every action, carried out, simulated or refused: the event other parts (SIEM, dashboards) pick up. */
  onAction?: (a: PlaybookActionRow) => void;
  /** Wall clock in epoch seconds (tests move it). */
  now?: () => number;
}

const newId = (): string => `pa-${randomBytes(6).toString('hex')}`;

/**
 * Runs the active policy's playbooks on detections as they open. Everything a playbook may not do is decided
 * here, before the kernel hears of it: the guard rails (baseline flows, protected addresses, rate limit, blocks
 * a person undid) hold in simulate mode too, so a simulation shows exactly what acting would do.
 */
export class PlaybookRunner {
  private readonly zones = new Map<string, Zone>();
  private readonly zoneOf: (ip: string) => string | null;
  private readonly guard: BlockGuard;
  private readonly now: () => number;
  /** Actions decided but not yet recorded, per zone/playbook: the rate limit counts them too. */
  private readonly pending = new Map<string, number>();
  /** Addresses whose block is on its way to the kernel (not yet recorded). */
  private readonly inFlight = new Set<string>();

  private readonly o: Omit<PlaybookRunnerOptions, 'baseline' | 'compiled'>;
  /** Every asset of the baseline. */
  private readonly assets: ReadonlySet<string>;
  /** Who holds a live permit, asked when a playbook blocks on scans (which a forged source can fake). */
  private readonly permitView: PermitView;

  constructor(opts: PlaybookRunnerOptions) {
    const { baseline, compiled, ...o } = opts;
    this.o = o;
    this.assets = compiled?.assets ?? new Set(baseline.assets);
    for (const z of o.active.policy.zones) if (z.playbooks?.length) this.zones.set(z.name, z);
    const cp = new CompiledPolicy(o.active.policy);
    this.zoneOf = (ip) => cp.zoneOf(ip)?.name ?? null;
    this.guard = new BlockGuard(baseline, o.protectedAddresses, this.assets);
    this.now = o.now ?? (() => Date.now() / 1000);
    this.permitView = new PermitView(
      () => o.kernel.grantedPermits(),
      () => o.kernel.permits(),
    );
    const blocksOnScans = [...this.zones.values()].some((z) =>
      z.playbooks!.some(
        (pb) =>
          pb.actions.includes('block_source') &&
          pb.on.some((t) => SPOOFABLE_TYPES.has(t as Detection['type'])),
      ),
    );
    if (blocksOnScans) this.permitView.start();
  }

  /** How many playbooks run, by mode (for the line a runner prints when it starts). */
  summary(): { act: string[]; simulate: string[] } {
    const out = { act: [] as string[], simulate: [] as string[] };
    for (const z of this.zones.values())
      for (const pb of z.playbooks!) out[pb.mode].push(`${z.name}/${pb.name}`);
    return out;
  }

  /** Run every playbook of the detection's zone that it triggers. Settles once each action is recorded. */
  onDetection(d: Detection): Promise<PlaybookActionRow[]> {
    const zone = d.zone === null ? undefined : this.zones.get(d.zone);
    if (zone === undefined) return Promise.resolve([]);
    const work: Array<Promise<PlaybookActionRow[]>> = [];
    for (const pb of zone.playbooks!)
      if (this.triggers(pb, d)) work.push(this.runPlaybook(zone.name, pb, d));
    return Promise.all(work).then((r) => r.flat());
  }

  /** One playbook's actions in order: the block first (the kernel waits for nothing), the notice last. */
  private async runPlaybook(
    zone: string,
    pb: Playbook,
    d: Detection,
  ): Promise<PlaybookActionRow[]> {
    const out: PlaybookActionRow[] = [];
    const order: PlaybookActionKind[] = ['block_source', 'revoke_permits', 'notify'];
    // The live permits, read from the kernel once per run, when a revocation lists them.
    let read: Promise<TemporaryPermit[]> | null = null;
    const permits = (): Promise<TemporaryPermit[]> => (read ??= this.o.kernel.permits());
    for (const kind of order)
      if (pb.actions.includes(kind)) out.push(...(await this.run(zone, pb, kind, d, permits)));
    return out;
  }

  private triggers(pb: Playbook, d: Detection): boolean {
    if (!(pb.on as string[]).includes(d.type)) return false;
    if (SEVERITY_RANK[d.severity] < SEVERITY_RANK[pb.minSeverity]) return false;
    if (pb.sourceNotIn.length > 0) {
      const z = this.zoneOf(d.src);
      if (z !== null && pb.sourceNotIn.includes(z)) return false;
    }
    if (pb.sourceUnknown && this.assets.has(d.src)) return false;
    return true;
  }

  private async run(
    zone: string,
    pb: Playbook,
    kind: PlaybookActionKind,
    d: Detection,
    permits: () => Promise<TemporaryPermit[]>,
  ): Promise<PlaybookActionRow[]> {
    if (kind === 'block_source') return [await this.block(zone, pb, d)];
    // A notice changes nothing on the host: it is not rate limited (the detections it follows are folded already).
    if (kind === 'notify')
      return [
        this.record(zone, pb, d, {
          kind,
          target: d.src,
          status: pb.mode === 'act' ? 'done' : 'simulated',
          reason: d.explanation,
        }),
      ];
    return this.revokePermits(zone, pb, d, permits);
  }

  /** 'refused' when the playbook has used its rate limit (blocks and revocations in the window), else null. */
  private rateLimited(zone: string, pb: Playbook): 'refused' | null {
    const key = `${zone}/${pb.name}`;
    const used =
      countPlaybookActions(this.o.db, zone, pb.name, this.now() - pb.rateLimit.per) +
      (this.pending.get(key) ?? 0);
    return used >= pb.rateLimit.max ? 'refused' : null;
  }

  private limitReason(pb: Playbook): string {
    return `rate limit: ${pb.rateLimit.max} action(s) per ${pb.rateLimit.per} s reached`;
  }

  private async block(zone: string, pb: Playbook, d: Detection): Promise<PlaybookActionRow> {
    const ip = d.src;
    const base = { kind: 'block_source' as const, target: ip };
    // A decoy contact by UDP, ICMP or raw IP (or TCP without a completed handshake) names a source nobody proved.
    const g = this.guard.refusal(pb, ip, d.evidence.fields.spoofable === true);
    if (g !== null)
      return this.record(zone, pb, d, {
        ...base,
        status: 'refused',
        reason: g.reason,
        details: g.cuts.length ? { cuts_baseline: g.cuts } : {},
      });
    // A spoofable detection never blocks the holder of a live permit (a forged source must not end a session).
    if (restsOnSpoofableProbes(d)) {
      let why: string | null;
      try {
        const seeding = this.permitView.seeded();
        if (seeding !== null) await seeding;
        why = spoofRefusal(d, ip, this.permitView.current());
      } catch (err) {
        why = `cannot read the permits to check ${ip} holds none: ${(err as Error).message}`;
      }
      if (why !== null)
        return this.record(zone, pb, d, { ...base, status: 'refused', reason: why });
    }
    const now = this.now();
    const undone = recentUndoneBlock(this.o.db, ip, now - pb.blockTtl);
    if (undone !== null)
      return this.record(zone, pb, d, {
        ...base,
        status: 'refused',
        reason: `${undone.undoneBy} undid block ${undone.id} at ${undone.undoneAt}: not blocked again by a playbook within its ttl`,
      });
    const held = this.inFlight.has(ip) ? now : activePlaybookBlock(this.o.db, ip, now)?.expiresAt;
    if (held !== undefined && held !== null)
      return this.record(zone, pb, d, {
        ...base,
        status: 'refused',
        reason: this.inFlight.has(ip)
          ? 'a block of this address is under way'
          : `already blocked by a playbook until ${new Date(held * 1000).toISOString()}`,
      });
    if (this.rateLimited(zone, pb) !== null)
      return this.record(zone, pb, d, { ...base, status: 'refused', reason: this.limitReason(pb) });
    const ttl = pb.blockTtl;
    const why = `playbook ${zone}/${pb.name} on ${d.type} ${d.id}`;
    if (pb.mode === 'simulate')
      return this.record(zone, pb, d, { ...base, status: 'simulated', reason: why, ttl });
    const key = `${zone}/${pb.name}`;
    this.pending.set(key, (this.pending.get(key) ?? 0) + 1);
    this.inFlight.add(ip);
    try {
      await this.o.kernel.block(ip, ttl, why);
      const inKernel = Date.now() / 1000;
      return this.record(zone, pb, d, {
        ...base,
        status: 'done',
        reason: why,
        ttl,
        details: { detection_to_kernel_ms: Math.round((inKernel - d.ts) * 1000) },
      });
    } catch (err) {
      return this.record(zone, pb, d, {
        ...base,
        status: 'failed',
        reason: (err as Error).message,
        ttl,
      });
    } finally {
      this.inFlight.delete(ip);
      this.pending.set(key, this.pending.get(key)! - 1);
    }
  }

  /** Temporary permits to or from the source are withdrawn (what `weir permit` opened for it). */
  private async revokePermits(
    zone: string,
    pb: Playbook,
    d: Detection,
    live: () => Promise<TemporaryPermit[]>,
  ): Promise<PlaybookActionRow[]> {
    let permits: TemporaryPermit[];
    try {
      permits = (await live()).filter((p) => p.client === d.src || p.server === d.src);
    } catch (err) {
      return [
        this.record(zone, pb, d, {
          kind: 'revoke_permits',
          target: d.src,
          status: 'failed',
          reason: `cannot read the permits: ${(err as Error).message}`,
        }),
      ];
    }
    const out: PlaybookActionRow[] = [];
    const spoofable = spoofRefusal(d, d.src, permits);
    for (const p of permits) {
      const base = {
        kind: 'revoke_permits' as const,
        target: permitName(p),
        details: {
          permit: { client: p.client, server: p.server, transport: p.transport, port: p.port },
          permit_expires_at: p.expiresIn !== null ? this.now() + p.expiresIn : null,
        },
      };
      if (spoofable !== null) {
        out.push(this.record(zone, pb, d, { ...base, status: 'refused', reason: spoofable }));
        continue;
      }
      if (this.rateLimited(zone, pb) !== null) {
        out.push(
          this.record(zone, pb, d, { ...base, status: 'refused', reason: this.limitReason(pb) }),
        );
        continue;
      }
      const why = `playbook ${zone}/${pb.name} on ${d.type} ${d.id}`;
      if (pb.mode === 'simulate') {
        out.push(this.record(zone, pb, d, { ...base, status: 'simulated', reason: why }));
        continue;
      }
      try {
        // Which set held it (and a scoped one's scope): the undo restores it as it was, never wider.
        const revoked = await this.o.kernel.revokePermit(p, why);
        const details = revoked ? { ...base.details, revoked } : base.details;
        out.push(this.record(zone, pb, d, { ...base, details, status: 'done', reason: why }));
      } catch (err) {
        out.push(
          this.record(zone, pb, d, { ...base, status: 'failed', reason: (err as Error).message }),
        );
      }
    }
    return out;
  }

  /** Store the action, audit it with the detection and the policy version, and tell whoever listens. */
  private record(
    zone: string,
    pb: Playbook,
    d: Detection,
    a: {
      kind: PlaybookActionKind;
      target: string;
      status: PlaybookActionRow['status'];
      reason: string;
      ttl?: number;
      details?: Record<string, unknown>;
    },
  ): PlaybookActionRow {
    const at = this.now();
    const row: PlaybookActionRow = {
      id: newId(),
      at,
      zone,
      playbook: pb.name,
      policySha: this.o.active.sha,
      mode: pb.mode,
      kind: a.kind,
      target: a.target,
      ttlS: a.ttl ?? null,
      expiresAt: a.ttl !== undefined && a.status === 'done' ? at + a.ttl : null,
      detectionId: d.id,
      detectionType: d.type,
      detectionTs: d.ts,
      status: a.status,
      reason: a.reason,
      details: { src: d.src, dst: d.dst, severity: d.severity, ...a.details },
      undoneBy: null,
      undoneAt: null,
    };
    insertPlaybookAction(this.o.db, row);
    appendAudit(this.o.db, {
      actor: `playbook ${zone}/${pb.name}`,
      action: `playbook.${a.kind}${a.status === 'done' ? '' : `.${a.status}`}`,
      subject: a.target,
      details: {
        action_id: row.id,
        detection_id: d.id,
        detection_type: d.type,
        detection_ts: d.ts,
        zone,
        playbook: pb.name,
        mode: pb.mode,
        policy: this.o.active.sha.slice(0, 12),
        reason: a.reason,
        ...(a.ttl !== undefined ? { ttl_s: a.ttl } : {}),
        ...row.details,
      },
    });
    this.o.onAction?.(row);
    return row;
  }
}
