import { isIPv4 } from 'node:net';
import type { EnforcementBackend, PermitResult } from '../enforce/backend.js';
import { unjudgedLimits } from '../enforce/steer.js';
import { CompiledPolicy, groupOpenAt, type CompiledGroup } from '../policy/evaluate.js';
import { inWindow } from '../policy/windows.js';
import { HostSet, parseCidr } from '../policy/hosts.js';
import type { Policy } from '../policy/model.js';
import { permitGroup, type PermitTemplate } from '../policy/permit-templates.js';
import { inGroup, type Directory } from './directory.js';
import { untrustedText } from '../store/untrusted-text.js';

/** Why a permit was not given. The person sees one plain "refused"; the audit log keeps which. */
export type PermitRefusal =
  | 'unknown_template'
  | 'bad_client'
  | 'client_not_allowed'
  | 'outside_window'
  | 'bad_credentials'
  | 'directory_unreachable'
  | 'not_in_group'
  | 'enforcement_failed'
  | 'limits_not_enforceable';

export interface PermitRequest {
  user: string;
  /** Handed to the directory and dropped: never logged, never stored. */
  password: string;
  /** The address to let in (the person's engineering laptop). */
  client: string;
  template: string;
  /** Shorter than the template's maximum, if the person asks for less. */
  ttlSeconds?: number;
  /**
   * Where the request came from, as we know it: 'cli', 'api <session user>' or 'portal <address>'. It is the
   * audit's actor (`portal:<address>`) until the directory vouches for the person: a refused name is a claim.
   */
  via: string;
}

export type PermitOutcome =
  | {
      ok: true;
      user: string;
      template: string;
      group: string;
      ttlSeconds: number;
      until: number;
      permits: PermitResult[];
    }
  | { ok: false; reason: PermitRefusal; detail: string };

export interface AuditSink {
  (e: { actor: string; action: string; subject: string; details: Record<string, unknown> }): void;
}

export interface PermitServiceOptions {
  policy: Policy;
  directory: Directory;
  backend: EnforcementBackend;
  audit: AuditSink;
  now?: () => number;
}

/**
 * Temporary access for a person a directory vouches for: the template they ask for must exist, admit their
 * client and the hour, and name one of their directory groups; then each of its server flows is permitted at
 * the enforcement host for at most the template's time, scoped to its functions and registers (the gateway
 * judges each request by the permit's group). Every outcome, granted or refused, is audited with the identity.
 */
export class PermitService {
  private readonly cp: CompiledPolicy;
  private readonly now: () => number;

  constructor(private readonly o: PermitServiceOptions) {
    this.cp = new CompiledPolicy(o.policy);
    this.now = o.now ?? (() => Date.now() / 1000);
  }

  get templates(): PermitTemplate[] {
    return this.o.policy.permitTemplates ?? [];
  }

  async request(r: PermitRequest): Promise<PermitOutcome> {
    const out = await this.decide(r);
    // Escaped and cut: the portal's visitor typed these (a refused name may be anything, ESC and bidi marks too).
    const user = untrustedText(r.user, 128);
    const subject = untrustedText(`${r.client} ${r.template}`, 96);
    // The person only once the directory vouched for them (granted, or a right password outside the group).
    const vouched = out.ok || out.reason === 'not_in_group' || out.reason === 'enforcement_failed';
    const actor = vouched
      ? `${this.o.directory.kind}:${user}`
      : untrustedText(r.via.replace(' ', ':'), 96);
    if (out.ok)
      this.o.audit({
        actor,
        action: 'permit.granted',
        subject,
        details: {
          user,
          directory: this.o.directory.kind,
          via: r.via,
          client: r.client,
          template: r.template,
          directory_group: out.group,
          ttl_s: out.ttlSeconds,
          until: out.until,
          flows: out.permits.map(
            (p) => `${p.flow.client} → ${p.flow.server} ${p.flow.transport}/${p.flow.port}`,
          ),
        },
      });
    else
      this.o.audit({
        actor,
        action: 'permit.refused',
        subject,
        details: {
          user,
          directory: this.o.directory.kind,
          via: r.via,
          client: untrustedText(r.client, 64),
          template: untrustedText(r.template, 64),
          reason: out.reason,
          detail: untrustedText(out.detail, 256),
        },
      });
    return out;
  }

  private async decide(r: PermitRequest): Promise<PermitOutcome> {
    const t = this.templates.find((x) => x.name === r.template);
    if (t === undefined)
      return {
        ok: false,
        reason: 'unknown_template',
        detail: `no permit template '${r.template}'`,
      };
    // Belt and braces to `enforce apply`, which refuses such a template: never hand out a "read-only" BACnet
    // permit that the kernel would carry out as full access.
    const unjudged = t.servers.some((s) => this.cp.zoneOf(s)?.mode === 'enforce')
      ? unjudgedLimits(t)
      : null;
    if (unjudged !== null)
      return {
        ok: false,
        reason: 'limits_not_enforceable',
        detail: `template ${t.name}: ${unjudged}`,
      };
    if (!isIPv4(r.client))
      return { ok: false, reason: 'bad_client', detail: `'${r.client}' is not an IPv4 address` };
    if (t.clients !== undefined && !this.clientsOf(t).has(r.client))
      return {
        ok: false,
        reason: 'client_not_allowed',
        detail: `${r.client} is not among the template's clients`,
      };
    const now = this.now();
    const probe = new CompiledPolicy({
      ...this.o.policy,
      groups: [permitGroup(t, r.client, t.servers[0]!)],
    }).groups[0]!;
    if (!groupOpenAt(probe, now))
      return {
        ok: false,
        reason: 'outside_window',
        detail: `outside the template's windows (${(t.windows ?? []).join(', ')})`,
      };
    let vouch;
    try {
      vouch = await this.o.directory.verify(r.user, r.password);
    } catch (err) {
      return { ok: false, reason: 'directory_unreachable', detail: (err as Error).message };
    }
    if (!vouch.ok)
      return {
        ok: false,
        reason: vouch.reason === 'bad_credentials' ? 'bad_credentials' : 'directory_unreachable',
        detail: `${vouch.reason}: ${vouch.detail}`,
      };
    const group = inGroup(vouch.groups, t.directoryGroups);
    if (group === null)
      return {
        ok: false,
        reason: 'not_in_group',
        detail: `${r.user} is in none of ${t.directoryGroups.join(', ')}`,
      };
    const asked = r.ttlSeconds ?? t.maxTtl;
    // A permit of a windowed template ends with the window it was given in, at the latest.
    const left = windowLeft(probe, now);
    const ttl = Math.max(1, Math.min(Math.floor(asked), t.maxTtl, left ?? Infinity));
    const permits: PermitResult[] = [];
    try {
      for (const server of t.servers)
        for (const port of t.ports)
          permits.push(
            await this.o.backend.permit(
              { client: r.client, server, transport: t.transport, port },
              ttl,
              `${t.name} for ${r.user}`,
              {
                group: permitGroup(t, r.client, server),
                user: r.user,
                directory: this.o.directory.kind,
                template: t.name,
              },
            ),
          );
    } catch (err) {
      // Half a permit is no permit: what was opened is withdrawn again.
      for (const p of permits)
        await this.o.backend.revokePermit(p.flow, 'permit failed').catch(() => undefined);
      return { ok: false, reason: 'enforcement_failed', detail: (err as Error).message };
    }
    return {
      ok: true,
      user: r.user,
      template: t.name,
      group,
      ttlSeconds: ttl,
      until: Math.floor(now) + ttl,
      permits,
    };
  }

  private clientsOf(t: PermitTemplate): HostSet {
    const s = new HostSet();
    for (const c of t.clients ?? []) {
      const z = this.o.policy.zones.find((x) => x.name === c);
      if (z !== undefined) for (const b of this.cp.zoneBlocks(z)) s.add(b);
      else {
        const cidr = parseCidr(c);
        if (cidr !== null) s.add(cidr);
      }
    }
    return s;
  }
}

/** Seconds until the latest of the group's windows open at `ts` closes (null: the group has no windows). */
export function windowLeft(g: CompiledGroup, ts: number): number | null {
  if (g.windows.length === 0) return null;
  let best = 0;
  for (const x of g.windows) {
    const [day, minute] = x.clock.at(ts);
    if (!inWindow(x.w, x.mask, day, minute)) continue;
    // Across midnight, a window opened yesterday ends at `to` today; one opened today ends tomorrow.
    const end = x.w.from < x.w.to || minute < x.w.to ? x.w.to : 1440 + x.w.to;
    best = Math.max(best, (end - minute) * 60 - (Math.floor(ts) % 60));
  }
  return best;
}
