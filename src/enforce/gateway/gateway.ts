import net from 'node:net';
import { streamDissectors } from '../../dissect/registry.js';
import type { StreamDissector } from '../../dissect/protocol.js';
import { flowVerdict, type CompiledPolicy } from '../../policy/evaluate.js';
import type { GatewayTarget } from '../steer.js';
import { StreamInspector, type DenyMode } from './inspector.js';

export interface GatewayOptions {
  policy: CompiledPolicy;
  targets: GatewayTarget[];
  deny: DenyMode;
  budgetMicros: number;
  /** One structured event per line: denials, refused connections, fail-open windows. */
  log: (event: Record<string, unknown>) => void;
  fault?: () => void;
  /** Seconds without a fail-open after which its window is closed and summarised. */
  failOpenQuietSeconds?: number;
}

export interface GatewayStats {
  connections: number;
  refused: number;
  pdusDenied: number;
  failOpen: number;
}

/**
 * The protocol-aware inline gateway: one listener per steered server, a connection to the real server per
 * client connection, every client PDU checked against the policy. Whatever goes wrong in the checking, the
 * PDU goes through and the window of unchecked traffic is logged.
 */
export class Gateway {
  readonly stats: GatewayStats = { connections: 0, refused: 0, pdusDenied: 0, failOpen: 0 };
  private readonly servers: net.Server[] = [];
  private readonly sockets = new Set<net.Socket>();
  private window: { from: number; to: number; pdus: number; reasons: Set<string> } | null = null;
  private windowTimer: NodeJS.Timeout | null = null;

  constructor(private readonly opts: GatewayOptions) {}

  async start(): Promise<void> {
    for (const t of this.opts.targets) {
      const d = streamDissectors.find((s) => s.protocol === t.protocol);
      if (d === undefined) throw new Error(`the gateway has no stream dissector for ${t.protocol}`);
      const srv = net.createServer({ noDelay: true }, (sock) => this.accept(sock, t, d));
      this.servers.push(srv);
      await new Promise<void>((resolve, reject) => { srv.once('error', reject); srv.listen(t.listenPort, t.listenIp, () => resolve()); });
    }
    this.opts.log({ event: 'gateway_started', targets: this.opts.targets.map((t) => `${t.listenIp}:${t.listenPort} → ${t.server}:${t.port} (${t.protocol})`) });
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await Promise.all(this.servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    this.closeWindow();
  }

  private accept(client: net.Socket, t: GatewayTarget, d: StreamDissector): void {
    this.stats.connections++;
    const clientIp = (client.remoteAddress ?? '').replace(/^::ffff:/, '');
    const rules = this.opts.policy.rules(clientIp, t.server, 'tcp', t.port);
    const enforce = rules.zone?.mode === 'enforce';
    const flow = flowVerdict(rules, Date.now() / 1000);
    if (typeof flow === 'string' && enforce) {
      this.stats.refused++;
      this.opts.log({ event: 'connection_refused', client: clientIp, server: t.server, port: t.port, reason: flow, zone: rules.zone?.name });
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect({ host: t.server, port: t.port, noDelay: true });
    this.sockets.add(client); this.sockets.add(upstream);
    const inspector = new StreamInspector(d, rules, {
      frame: 0, ts: 0, transport: 'tcp', srcMac: '', dstMac: '', srcIp: clientIp, dstIp: t.server, srcPort: client.remotePort ?? 0, dstPort: t.port,
    }, { deny: this.opts.deny, budgetMicros: this.opts.budgetMicros, fault: this.opts.fault });
    const end = (): void => { client.destroy(); upstream.destroy(); this.sockets.delete(client); this.sockets.delete(upstream); };
    client.on('error', end); upstream.on('error', (err) => { this.opts.log({ event: 'upstream_error', server: t.server, port: t.port, error: err.message }); end(); });
    client.on('close', end); upstream.on('close', end);
    upstream.pipe(client);
    client.on('data', (chunk: Buffer) => {
      let actions;
      try {
        actions = inspector.push(chunk);
      } catch (err) {
        // Should the inspector itself break, the bytes still go through.
        this.failOpen(`inspector error: ${(err as Error).message}`, clientIp, t);
        actions = [{ kind: 'forward' as const, bytes: chunk }];
      }
      for (const e of inspector.events.splice(0)) {
        if (e.kind === 'fail_open') this.failOpen(e.reason, clientIp, t);
        else {
          const m = e.message!;
          this.opts.log({ event: enforce ? 'denied' : 'would_deny', client: clientIp, server: t.server, port: t.port, zone: rules.zone?.name, protocol: m.protocol, func: m.func, func_name: m.funcName, targets: m.targets, reason: e.reason, micros: Math.round(e.micros) });
        }
      }
      for (const a of actions) {
        // Below enforce the gateway only reports; the refused PDU travels on like any other.
        if (a.kind === 'forward' || !enforce) {
          if (!upstream.write(a.kind === 'forward' ? a.bytes : a.pdu) && !client.isPaused()) { client.pause(); upstream.once('drain', () => client.resume()); }
          continue;
        }
        this.stats.pdusDenied++;
        if (a.kind === 'reply') client.write(a.bytes);
      }
    });
  }

  private failOpen(reason: string, client: string, t: GatewayTarget): void {
    this.stats.failOpen++;
    const now = Date.now() / 1000;
    if (this.window === null) {
      this.window = { from: now, to: now, pdus: 0, reasons: new Set() };
      this.opts.log({ event: 'fail_open', phase: 'start', client, server: t.server, port: t.port, reason, from: new Date(now * 1000).toISOString() });
    }
    this.window.to = now;
    this.window.pdus++;
    this.window.reasons.add(reason.replace(/[0-9.]+ µs/, 'N µs'));
    if (this.windowTimer) clearTimeout(this.windowTimer);
    this.windowTimer = setTimeout(() => this.closeWindow(), (this.opts.failOpenQuietSeconds ?? 1) * 1000);
    this.windowTimer.unref();
  }

  private closeWindow(): void {
    if (this.windowTimer) { clearTimeout(this.windowTimer); this.windowTimer = null; }
    const w = this.window;
    if (w === null) return;
    this.window = null;
    this.opts.log({ event: 'fail_open', phase: 'end', from: new Date(w.from * 1000).toISOString(), to: new Date(w.to * 1000).toISOString(), pdus_unchecked: w.pdus, reasons: [...w.reasons] });
  }
}
