import net from 'node:net';
import { readdirSync, readFileSync } from 'node:fs';
import { gatewayDissector } from '../../dissect/registry.js';
import type { StreamDissector } from '../../dissect/protocol.js';
import type { Message } from '../../dissect/message.js';
import {
  CompiledPolicy,
  flowVerdict,
  type CompiledGroup,
  type FlowRules,
} from '../../policy/evaluate.js';
import type { ScopedPermitRecord } from '../permit-scopes.js';
import type { GatewayTarget } from '../steer.js';
import { StreamInspector, type DenyMode, type InspectorEvent } from './inspector.js';
import { ClientThrottle, type ThrottleOptions } from './throttle.js';
import { FailOpenWindows } from './fail-open.js';
import { DEFAULT_SETTINGS } from '../../settings/model.js';
import { namesClient } from './named-clients.js';

export interface GatewayOptions {
  policy: CompiledPolicy;
  /** Which servers to guard under a policy (recomputed when the policy is reloaded). */
  targetsOf: (p: CompiledPolicy) => GatewayTarget[];
  listenIp: string;
  deny: DenyMode;
  budgetMicros: number;
  throttle?: Partial<ThrottleOptions>;
  /** One structured event per call: denials, refused connections, fail-open windows, throttling. */
  log: (event: Record<string, unknown>) => void;
  fault?: () => void;
  /** Seconds without a fail-open after which a client's window is closed and summarised. */
  failOpenQuietSeconds?: number;
  /** Scoped permits in force (from templates): a permitted flow is judged by its permit's group too. */
  permits?: { find(client: string, server: string, port: number): ScopedPermitRecord | null };
  /** Seconds without a byte either way after which a connection is closed (settings gateway.idle_s). */
  idleSeconds?: number;
  /** Connections at once per client address; more are refused for that client (gateway.per_client_connections). */
  perClientConnections?: number;
  /**
   * Connections at once, all clients together (gateway.max_connections); never more than the descriptor limit
   * leaves room for. When full, room is made by who, not by count: clients a group names by their own address
   * are shed last and admitted up to their own cap; then scoped permit holders (never in a named client's place);
   * connections that never carried a request, then other range-admitted clients' (the largest holder's
   * longest-idle), give way first; anyone else is refused. Clients' load is shed, never a reason to fail open.
   */
  maxConnections?: number;
  /**
   * The gateway ran out of file descriptors or socket buffers although its connection limits keep it below
   * them (a leak, a limit lowered under it, the system's file table full): it can serve nobody now, which is its
   * own fault — the runner stops steering so traffic goes direct, and says so.
   */
  onExhausted?: (reason: string) => void;
}

export interface GatewayStats {
  connections: number;
  refused: number;
  pdusForwarded: number;
  pdusDenied: number;
  failOpen: number;
  throttled: number;
  /** Connections refused because their client already held its cap. */
  capped: number;
  /** Connections closed for being idle. */
  idleClosed: number;
  /** Connections refused because the gateway held its maximum and no client held more than its share. */
  full: number;
  /** Idle connections of the largest holder closed to make room for a client holding fewer. */
  shed: number;
}

interface Listener {
  target: GatewayTarget;
  server: net.Server;
  dissector: StreamDissector;
  port: number;
}
interface Conn {
  client: net.Socket;
  upstream: net.Socket;
  clientIp: string;
  target: GatewayTarget;
  inspector: StreamInspector;
  /** The scoped permit the connection was let in by (or widened by), while it lasts. */
  permit: ScopedPermitRecord | null;
  /** When the client last sent bytes (ms): the longest-idle connection is shed first. */
  lastRequest: number;
  /** The server does not take more now: reading from the client waits for its drain. */
  upstreamFull: boolean;
  /** Who holds it, for shedding (see `Rank`). */
  rank: Rank;
  /** At least one request of it was judged and forwarded. */
  spoke: boolean;
}

const key = (server: string, port: number): string => `${server}:${port}`;

/**
 * Who holds a connection, for a full gateway: NAMED, a group of the policy names the client by its own address
 * for this server (the plant's own pollers: SCADA, historian); PERMIT, a scoped permit lets it in (a vendor's
 * laptop: temporary, vouched for by a directory, not written into the policy by the plant's engineers); RANGE,
 * admitted only as an address of an allowed range. A newcomer never sheds a connection of a higher rank.
 */
const RANGE = 0,
  PERMIT = 1,
  NAMED = 2;
type Rank = typeof RANGE | typeof PERMIT | typeof NAMED;
const RANK_NAME = ['range', 'permit', 'named'] as const;

/** The rank, by the policy's own groups: a permit's group names its client too, but does not make it the plant's. */
const rankOf = (policyRules: FlowRules, clientIp: string, permit: unknown): Rank =>
  namesClient(policyRules.groups, clientIp) ? NAMED : permit !== null ? PERMIT : RANGE;

/** Whether a permit looked up again is the grant the connection holds (the reader re-reads its file on change). */
const samePermit = (a: ScopedPermitRecord, b: ScopedPermitRecord): boolean =>
  a === b ||
  (a.grantedAt === b.grantedAt &&
    a.user === b.user &&
    a.template === b.template &&
    JSON.stringify(a.group) === JSON.stringify(b.group));

/** What the log says of a refused secured channel: its security policy, and why it was not judged. */
function securedWhy(m: Message): Record<string, unknown> {
  const policy = m.fields?.security_policy ?? m.fields?.security ?? 'unknown';
  return {
    security_policy: policy,
    why: `an OPC UA channel under ${String(policy)} (Sign or SignAndEncrypt): its services cannot be read, and the group does not say secured_channels: allow`,
  };
}

/** Descriptors kept free for the log, the health record and nft (heartbeat) while connections fill the rest. */
const FD_RESERVE = 24;
/**
 * Inspection time (µs) per turn of the event loop, all connections together: the loop also renews the kernel
 * steering leases and serves every other client, so a chunk of costly PDUs is judged in slices, not in one go.
 */
const TURN_MICROS = 10_000;
const NO_BYTES = new Uint8Array(0);

/** Open descriptors now and the soft limit, from /proc (Linux); no limit known elsewhere. */
function descriptorBudget(): { base: number; limit: number } {
  try {
    const limits = readFileSync('/proc/self/limits', 'utf8');
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(limits);
    const limit = m && m[1] !== 'unlimited' ? Number(m[1]) : Infinity;
    return { base: readdirSync('/proc/self/fd').length, limit };
  } catch {
    return { base: 0, limit: Infinity };
  }
}

/**
 * The protocol-aware inline gateway: one listener per steered server (on a port the OS picks; the kernel learns
 * it from the heartbeat), a connection to the real server per client connection, every client request checked
 * against the policy. A refused request never reaches the server; input no client sends closes the connection;
 * a client flooding the gateway is slowed down. Only a fault of the inspection itself lets a PDU through
 * unchecked, and that window is logged per client.
 */
export class Gateway {
  readonly stats: GatewayStats = {
    connections: 0,
    refused: 0,
    pdusForwarded: 0,
    pdusDenied: 0,
    failOpen: 0,
    throttled: 0,
    capped: 0,
    idleClosed: 0,
    full: 0,
    shed: 0,
  };
  private readonly listeners = new Map<string, Listener>();
  private readonly conns = new Set<Conn>();
  /** Open connections per client address (the per-client cap, shedding). */
  private readonly byClient = new Map<string, Set<Conn>>();
  /** The same, of range-admitted connections: what a full gateway sheds first. */
  private readonly unnamedBy = new Map<string, Set<Conn>>();
  /** The same, of connections a scoped permit lets in: shed before any connection a group names. */
  private readonly permitBy = new Map<string, Set<Conn>>();
  /** Range-admitted connections that never carried a request, oldest first: the first to give way. */
  private readonly mute = new Set<Conn>();
  /** Connections with bytes left unjudged at the end of their slice, in the order they are served. */
  private readonly waiting = new Set<Conn>();
  /** Inspection time spent in this turn of the event loop, and whether its end is scheduled. */
  private turnMicros = 0;
  private turnScheduled = false;
  private exhaustedOnce = false;
  /** Descriptors open before any connection, and the process's limit (RLIMIT_NOFILE, soft). */
  private readonly fds = descriptorBudget();
  private readonly throttle: ClientThrottle;
  private readonly paused = new Map<string, NodeJS.Timeout>();
  readonly windows: FailOpenWindows;
  private policy: CompiledPolicy;

  constructor(private readonly opts: GatewayOptions) {
    this.policy = opts.policy;
    const rate = DEFAULT_SETTINGS.gateway.rate;
    this.throttle = new ClientThrottle({
      rate,
      burst: 2 * rate,
      refusalCost: DEFAULT_SETTINGS.gateway.refusal_cost,
      requestMicros: DEFAULT_SETTINGS.gateway.request_us,
      ...opts.throttle,
    });
    this.windows = new FailOpenWindows(
      opts.log,
      opts.failOpenQuietSeconds ?? DEFAULT_SETTINGS.gateway.fail_open_quiet_s,
    );
  }

  /** The servers guarded now, with the ports the gateway listens on for them. */
  get targets(): Array<GatewayTarget & { listenPort: number }> {
    return [...this.listeners.values()].map((l) => ({ ...l.target, listenPort: l.port }));
  }

  async start(): Promise<void> {
    await this.load(this.policy);
    this.opts.log({
      event: 'gateway_started',
      targets: this.targets.map(
        (t) => `${t.listenIp}:${t.listenPort} → ${t.server}:${t.port} (${t.protocol})`,
      ),
      max_connections: this.maxConnections(),
      per_client_connections: this.perClientCap(),
      descriptors: Number.isFinite(this.fds.limit) ? this.fds.limit : null,
    });
  }

  private perClientCap(): number {
    return this.opts.perClientConnections ?? DEFAULT_SETTINGS.gateway.per_client_connections;
  }

  /** Connections at once: the setting, within what the descriptor limit leaves (two per connection). */
  private maxConnections(): number {
    const room = Math.floor(
      (this.fds.limit - this.fds.base - this.listeners.size - FD_RESERVE) / 2,
    );
    return Math.max(
      0,
      Math.min(this.opts.maxConnections ?? DEFAULT_SETTINGS.gateway.max_connections, room),
    );
  }

  /**
   * Switch to another policy: listeners for new servers open first, connections are re-judged under the new
   * rules (a flow the new policy refuses is closed), listeners of servers no longer guarded close last.
   */
  async reload(policy: CompiledPolicy): Promise<void> {
    await this.load(policy);
    this.permitGroups.clear();
    for (const c of [...this.conns]) {
      c.permit = this.permitOf(c.clientIp, c.target);
      const own = this.policy.rules(c.clientIp, c.target.server, 'tcp', c.target.port);
      const rules = this.withPermit(own, c.permit);
      if (
        typeof flowVerdict(rules, Date.now() / 1000) === 'string' ||
        !this.listeners.has(key(c.target.server, c.target.port))
      ) {
        this.opts.log({
          event: 'connection_closed',
          client: c.clientIp,
          server: c.target.server,
          port: c.target.port,
          reason: 'the new policy no longer allows this flow through the gateway',
        });
        this.end(c);
      } else {
        c.inspector.rules = rules;
        this.classify(c, own);
      }
    }
    this.opts.log({
      event: 'gateway_reloaded',
      targets: this.targets.map((t) => `${t.server}:${t.port} (${t.protocol})`),
    });
  }

  async stop(): Promise<void> {
    for (const c of [...this.conns]) this.end(c);
    await Promise.all(
      [...this.listeners.values()].map((l) => new Promise<void>((r) => l.server.close(() => r()))),
    );
    this.listeners.clear();
    for (const t of this.paused.values()) clearTimeout(t);
    this.paused.clear();
    this.windows.closeAll();
  }

  private async load(policy: CompiledPolicy): Promise<void> {
    const want = this.opts.targetsOf(policy);
    const wanted = new Set(want.map((t) => key(t.server, t.port)));
    for (const t of want) {
      const k = key(t.server, t.port);
      const have = this.listeners.get(k);
      if (have !== undefined) {
        have.target = t;
        continue;
      }
      const d = gatewayDissector(t.protocol);
      if (d === undefined) throw new Error(`the gateway has no stream dissector for ${t.protocol}`);
      const l: Listener = {
        target: t,
        dissector: d,
        port: 0,
        server: net.createServer({ noDelay: true, pauseOnConnect: true }, (sock) =>
          this.accept(sock, l),
        ),
      };
      await new Promise<void>((resolve, reject) => {
        l.server.once('error', reject);
        l.server.listen(0, this.opts.listenIp, () => resolve());
      });
      l.server.on('error', (err) => {
        this.opts.log({
          event: 'listener_error',
          server: t.server,
          port: t.port,
          error: err.message,
        });
        this.exhausted(err, `accepting for ${t.server}:${t.port}`);
      });
      l.port = (l.server.address() as net.AddressInfo).port;
      this.listeners.set(k, l);
    }
    this.policy = policy;
    for (const [k, l] of this.listeners)
      if (!wanted.has(k)) {
        this.listeners.delete(k);
        l.server.close();
      }
  }

  private readonly permitGroups = new Map<string, CompiledGroup>();

  /** The flow's rules widened by a scoped permit's group (compiled once per permit, under this policy). */
  private withPermit(rules: FlowRules, p: ScopedPermitRecord | null): FlowRules {
    if (p === null) return rules;
    // Two grants of a flow may share a second: the key is the whole grant, not its time.
    const k = JSON.stringify([p.flow, p.grantedAt, p.user, p.template, p.group]);
    let g = this.permitGroups.get(k);
    if (g === undefined) {
      if (this.permitGroups.size > 1000) this.permitGroups.clear();
      g = new CompiledPolicy({ ...this.policy.policy, groups: [p.group] }).groups[0]!;
      this.permitGroups.set(k, g);
    }
    return { ...rules, groups: [...rules.groups, g], timed: rules.timed || g.windows.length > 0 };
  }

  private permitOf(clientIp: string, t: GatewayTarget): ScopedPermitRecord | null {
    return this.opts.permits?.find(clientIp, t.server, t.port) ?? null;
  }

  /**
   * The permit a connection holds, looked up again at each of its requests: lapsed or revoked, the connection is
   * judged without it; replaced by another grant for the flow (a narrower template, say), under that one. A flow
   * no longer allowed is closed (true). Rights never outlive the permit that gave them.
   */
  private permitChanged(c: Conn): boolean {
    const p = c.permit!;
    const next = this.permitOf(c.clientIp, c.target);
    if (next !== null && samePermit(next, p)) {
      c.permit = next;
      return false;
    }
    const own = this.policy.rules(c.clientIp, c.target.server, 'tcp', c.target.port);
    const rules = this.withPermit(own, next);
    const base = {
      client: c.clientIp,
      server: c.target.server,
      port: c.target.port,
      user: p.user,
      directory: p.directory,
      template: p.template,
    };
    c.permit = next;
    if (typeof flowVerdict(rules, Date.now() / 1000) === 'string') {
      this.opts.log({
        event: 'connection_closed',
        ...base,
        reason:
          next === null
            ? 'the permit that let this flow in has lapsed or was revoked'
            : `the permit that let this flow in was replaced by ${next.template}'s, which does not allow it`,
      });
      this.end(c);
      return true;
    }
    this.opts.log(
      next === null
        ? { event: 'permit_ended', ...base }
        : {
            event: 'permit_changed',
            ...base,
            user: next.user,
            directory: next.directory,
            template: next.template,
            until: next.until,
            previous: { user: p.user, template: p.template, granted_at: p.grantedAt },
          },
    );
    c.inspector.rules = rules;
    this.classify(c, own);
    return false;
  }

  /** File a connection by rank (at accept, and again when its policy or permit changes): `own`, the policy's rules. */
  private classify(c: Conn, own: FlowRules): void {
    this.unfile(c);
    c.rank = rankOf(own, c.clientIp, c.permit);
    this.file(c);
  }

  private file(c: Conn): void {
    if (c.rank === NAMED) return;
    const by = c.rank === PERMIT ? this.permitBy : this.unnamedBy;
    let mine = by.get(c.clientIp);
    if (mine === undefined) by.set(c.clientIp, (mine = new Set()));
    mine.add(c);
    if (c.rank === RANGE && !c.spoke) this.mute.add(c);
  }

  private unfile(c: Conn): void {
    this.mute.delete(c);
    for (const by of [this.unnamedBy, this.permitBy]) {
      const mine = by.get(c.clientIp);
      mine?.delete(c);
      if (mine?.size === 0) by.delete(c.clientIp);
    }
  }

  private accept(client: net.Socket, l: Listener): void {
    this.stats.connections++;
    const t = l.target;
    const clientIp = (client.remoteAddress ?? '').replace(/^::ffff:/, '');
    client.on('error', () => client.destroy());
    // One client holding many connections (idle or not) would exhaust the gateway for every other client.
    const cap = this.perClientCap();
    const held = this.byClient.get(clientIp)?.size ?? 0;
    if (held >= cap) {
      this.stats.capped++;
      this.opts.log({
        event: 'connection_refused',
        client: clientIp,
        server: t.server,
        port: t.port,
        reason: 'per_client_cap',
        open: held,
        cap,
      });
      client.resetAndDestroy();
      return;
    }
    const permit = this.permitOf(clientIp, t);
    const own = this.policy.rules(clientIp, t.server, 'tcp', t.port);
    const rules = this.withPermit(own, permit);
    const flow = flowVerdict(rules, Date.now() / 1000);
    if (typeof flow === 'string') {
      this.stats.refused++;
      this.opts.log({
        event: 'connection_refused',
        client: clientIp,
        server: t.server,
        port: t.port,
        reason: flow,
        zone: rules.zone?.name,
      });
      client.resetAndDestroy();
      return;
    }
    // Node never hears of an accept that failed for want of descriptors (libuv closes such connections at once):
    // the gateway would refuse everyone in silence. So it stays below its limit by its own count, and many clients
    // at once are load to shed — refused or made room for, logged — not a fault to fail open on.
    const max = this.maxConnections();
    const rank = rankOf(own, clientIp, permit);
    if (this.conns.size >= max && !this.shedFor(clientIp, held, rank, t)) {
      this.stats.full++;
      this.opts.log({
        event: 'connection_refused',
        client: clientIp,
        server: t.server,
        port: t.port,
        reason: 'gateway_full',
        open: this.conns.size,
        max,
        clients: this.byClient.size,
        rank: RANK_NAME[rank],
      });
      client.resetAndDestroy();
      return;
    }
    if (permit !== null)
      this.opts.log({
        event: 'permit_used',
        client: clientIp,
        server: t.server,
        port: t.port,
        user: permit.user,
        directory: permit.directory,
        template: permit.template,
        until: permit.until,
      });
    const upstream = net.connect({ host: t.server, port: t.port, noDelay: true });
    const inspector = new StreamInspector(
      l.dissector,
      rules,
      {
        frame: 0,
        ts: 0,
        transport: 'tcp',
        srcMac: '',
        dstMac: '',
        srcIp: clientIp,
        dstIp: t.server,
        srcPort: client.remotePort ?? 0,
        dstPort: t.port,
      },
      { deny: this.opts.deny, budgetMicros: this.opts.budgetMicros, fault: this.opts.fault },
    );
    const c: Conn = {
      client,
      upstream,
      clientIp,
      target: t,
      inspector,
      permit,
      lastRequest: Date.now(),
      upstreamFull: false,
      rank,
      spoke: false,
    };
    this.conns.add(c);
    this.file(c);
    let mine = this.byClient.get(clientIp);
    if (mine === undefined) this.byClient.set(clientIp, (mine = new Set()));
    mine.add(c);
    const end = (): void => this.end(c);
    client.setTimeout((this.opts.idleSeconds ?? DEFAULT_SETTINGS.gateway.idle_s) * 1000, () => {
      this.stats.idleClosed++;
      this.opts.log({
        event: 'connection_closed',
        client: clientIp,
        server: t.server,
        port: t.port,
        reason: 'idle',
        idle_s: this.opts.idleSeconds ?? DEFAULT_SETTINGS.gateway.idle_s,
      });
      end();
    });
    client.on('close', end);
    upstream.on('error', (err) => {
      this.opts.log({
        event: 'upstream_error',
        client: clientIp,
        server: t.server,
        port: t.port,
        error: err.message,
      });
      end();
      this.exhausted(err, `connecting to ${t.server}:${t.port}`);
    });
    upstream.on('close', end);
    upstream.pipe(client);
    client.on('data', (chunk: Buffer) => this.onData(c, chunk));
    this.flow(c);
  }

  /**
   * The gateway is full: make room for `clientIp` (holding `held`, of rank `rank`) by closing one connection,
   * chosen by who holds it rather than by count — the client holding the most is, by construction, the plant's
   * hub (a SCADA server polling many PLCs), so a count alone would let anyone with spare addresses of an allowed
   * range cut it.
   *  1. a range-admitted connection that never carried a request, oldest first (for a range newcomer, only of a
   *     client holding at least as many as the newcomer then will);
   *  2. the longest-idle connection of the range-admitted client holding the most (for a range newcomer, only if
   *     that client holds more than the newcomer then will: even shares among range-admitted clients);
   *  3. for a named newcomer, the same among permit holders, whatever they hold;
   *  4. for a permit holder, the same among permit holders, and for a named newcomer among named clients, only
   *     of a client holding more than the newcomer then will: even shares among equals.
   * A client is thus always admitted below its cap while a connection of a lower rank is open, and never takes
   * the place of a higher rank: a permit holder cannot push a SCADA server a group names down to its own count.
   */
  private shedFor(clientIp: string, held: number, rank: Rank, t: GatewayTarget): boolean {
    const above = rank > RANGE;
    const fair = (size: number): boolean => above || size >= held + 1;
    const more = (size: number): boolean => size > held + 1;
    let victim: Conn | null = null;
    let why = 'never carried a request';
    for (const c of this.mute)
      if (c.clientIp !== clientIp && fair(this.unnamedBy.get(c.clientIp)!.size)) {
        victim = c;
        break;
      }
    if (victim === null) {
      why = 'range-admitted, holding the most';
      victim = this.idlestOfLargest(this.unnamedBy, (size) => above || more(size), clientIp);
    }
    if (victim === null && rank > RANGE) {
      why = 'permit holder, holding the most';
      victim = this.idlestOfLargest(this.permitBy, (s) => rank === NAMED || more(s), clientIp);
    }
    if (victim === null && rank === NAMED) {
      why = 'named, holding the most';
      victim = this.idlestOfLargest(this.byClient, more, clientIp);
    }
    if (victim === null) return false;
    this.stats.shed++;
    this.opts.log({
      event: 'connection_closed',
      client: victim.clientIp,
      server: victim.target.server,
      port: victim.target.port,
      reason: 'shed',
      why,
      open: this.byClient.get(victim.clientIp)!.size,
      idle_s: Math.round((Date.now() - victim.lastRequest) / 1000),
      for_client: clientIp,
      for_server: t.server,
      for_rank: RANK_NAME[rank],
    });
    this.end(victim);
    return true;
  }

  /** The longest-idle connection of the client holding the most in `by`, if its count passes `enough`. */
  private idlestOfLargest(
    by: Map<string, Set<Conn>>,
    enough: (size: number) => boolean,
    except: string,
  ): Conn | null {
    let most: Set<Conn> | null = null;
    for (const [ip, cs] of by)
      if (ip !== except && (most === null || cs.size > most.size)) most = cs;
    if (most === null || !enough(most.size)) return null;
    let idlest: Conn | null = null;
    for (const c of most) if (idlest === null || c.lastRequest < idlest.lastRequest) idlest = c;
    return idlest;
  }

  private onData(c: Conn, chunk: Buffer): void {
    if (c.permit !== null && this.permitChanged(c)) return;
    c.lastRequest = Date.now();
    this.inspect(c, chunk);
  }

  /**
   * Judge what the client sent, within what is left of this turn's inspection time; what is left over waits in
   * the inspector (the client is not read meanwhile) and is judged in a later turn, round-robin with the other
   * connections. The client is charged for the inspection time as well as for its requests.
   */
  private inspect(c: Conn, chunk: Uint8Array): void {
    const { upstream, client, clientIp, target: t, inspector } = c;
    const before = inspector.spentMicros;
    let actions;
    try {
      actions = inspector.push(chunk, Math.max(0, TURN_MICROS - this.turnMicros));
    } catch (err) {
      // The inspector itself broke (our fault): these bytes pass, the window is logged.
      this.stats.failOpen++;
      this.windows.note(clientIp, t.server, t.port, `inspector error: ${(err as Error).message}`);
      actions = [{ kind: 'forward' as const, bytes: chunk }];
    }
    const spent = inspector.spentMicros - before;
    this.turnMicros += spent;
    this.report(c, inspector.events.splice(0));
    let requests = 0,
      refused = 0;
    for (const a of actions) {
      if (a.kind === 'close') {
        this.stats.refused++;
        this.end(c);
        return;
      }
      if (a.kind === 'forward') {
        requests++;
        if (!c.spoke) {
          c.spoke = true;
          this.mute.delete(c);
        }
        this.stats.pdusForwarded++;
        if (!upstream.write(a.bytes) && !c.upstreamFull) {
          c.upstreamFull = true;
          upstream.once('drain', () => {
            c.upstreamFull = false;
            this.flow(c);
          });
        }
        continue;
      }
      refused++;
      this.stats.pdusDenied++;
      if (a.kind === 'reply') client.write(a.bytes);
    }
    const wait = this.throttle.spend(clientIp, requests, refused, spent);
    if (wait > 0) this.pauseClient(clientIp, t, wait);
    if (inspector.backlog) this.waiting.add(c);
    if (spent > 0 || (inspector.backlog && !this.paused.has(clientIp))) this.endTurn();
    this.flow(c);
  }

  /** Read from the client unless it is throttled, has bytes waiting for judgement, or its server is full. */
  private flow(c: Conn): void {
    if (c.client.destroyed) return;
    const hold = c.inspector.backlog || c.upstreamFull || this.paused.has(c.clientIp);
    if (hold) c.client.pause();
    else if (c.client.isPaused()) c.client.resume();
  }

  /** At the end of this turn of the event loop: a new turn's inspection time, spent on the waiting first. */
  private endTurn(): void {
    if (this.turnScheduled) return;
    this.turnScheduled = true;
    setImmediate(() => {
      this.turnScheduled = false;
      this.turnMicros = 0;
      for (const c of [...this.waiting]) {
        if (this.turnMicros >= TURN_MICROS) break;
        if (this.paused.has(c.clientIp)) continue; // throttled: its timer brings it back
        this.waiting.delete(c);
        if (!this.conns.has(c)) continue;
        // Bytes held over from an earlier turn are judged under the permit in force now, not the one they came under.
        if (c.permit !== null && this.permitChanged(c)) continue;
        this.inspect(c, NO_BYTES);
      }
    });
  }

  /** Stop reading from every connection of a client until its budget refills. */
  private pauseClient(clientIp: string, t: GatewayTarget, ms: number): void {
    if (this.paused.has(clientIp)) return;
    this.stats.throttled++;
    this.opts.log({
      event: 'client_throttled',
      client: clientIp,
      server: t.server,
      port: t.port,
      pause_ms: ms,
    });
    const mine = (): Conn[] => [...(this.byClient.get(clientIp) ?? [])];
    this.paused.set(
      clientIp,
      setTimeout(() => {
        this.paused.delete(clientIp);
        for (const c of mine()) {
          this.flow(c);
          if (this.waiting.has(c)) this.endTurn();
        }
      }, ms),
    );
    for (const c of mine()) this.flow(c);
  }

  private report(c: Conn, events: InspectorEvent[]): void {
    const t = c.target;
    for (const e of events) {
      if (e.kind === 'fail_open') {
        this.stats.failOpen++;
        this.windows.note(c.clientIp, t.server, t.port, e.reason);
        continue;
      }
      const base = {
        client: c.clientIp,
        server: t.server,
        port: t.port,
        zone: c.inspector.rules.zone?.name,
        ...(c.permit !== null
          ? { user: c.permit.user, directory: c.permit.directory, template: c.permit.template }
          : {}),
      };
      if (e.kind === 'refused') {
        this.opts.log({ event: 'connection_refused', ...base, reason: e.reason });
        continue;
      }
      if (e.kind === 'slow') {
        this.opts.log({ event: 'slow_inspection', ...base, reason: e.reason });
        continue;
      }
      const m = e.message!;
      this.opts.log({
        event: 'denied',
        ...base,
        protocol: m.protocol,
        func: m.func,
        func_name: m.funcName,
        targets: m.targets,
        reason: e.reason,
        ...(e.reason === 'secured_channel' ? securedWhy(m) : {}),
        micros: Math.round(e.micros),
      });
    }
  }

  /**
   * Out of descriptors or buffers although the connection limits keep the gateway below them: its own fault.
   * Tell the runner once (it stops steering); other errors are the peer's.
   */
  private exhausted(err: NodeJS.ErrnoException, where: string): void {
    if (err.code !== 'EMFILE' && err.code !== 'ENFILE' && err.code !== 'ENOBUFS') return;
    this.exhaust(`${where}: ${err.code}`);
  }

  private exhaust(what: string): void {
    if (this.exhaustedOnce) return;
    this.exhaustedOnce = true;
    const reason = `${what} with ${this.conns.size} connections open from ${this.byClient.size} clients (limit ${this.maxConnections()})`;
    this.opts.log({ event: 'gateway_exhausted', reason });
    // It can serve nobody now: free the descriptors, so that the fault can still be recorded on the way out.
    for (const c of [...this.conns]) this.end(c);
    this.opts.onExhausted?.(reason);
  }

  private end(c: Conn): void {
    if (!this.conns.delete(c)) return;
    this.waiting.delete(c);
    this.unfile(c);
    const mine = this.byClient.get(c.clientIp);
    mine?.delete(c);
    if (mine?.size === 0) this.byClient.delete(c.clientIp);
    c.client.destroy();
    c.upstream.destroy();
  }
}
