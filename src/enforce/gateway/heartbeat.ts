import { spawn, type ChildProcess } from 'node:child_process';
import { TABLE, type NftFamily } from '../nft-ruleset.js';
import { DEFAULT_SETTINGS } from '../../settings/model.js';

export interface SteerLease {
  server: string;
  port: number;
  listenPort: number;
}

export interface HeartbeatOptions {
  family: NftFamily;
  /** How long one renewal keeps the kernel steering to the gateway; the fail-open bound after a crash. */
  leaseMs?: number;
  /** How often it is renewed. */
  intervalMs?: number;
  onResult: (ok: boolean, error: string | null) => void;
}

/**
 * The gateway's dead-man switch in the kernel. Traffic is steered to the gateway only while elements of the
 * `gw_live` set (bridge) and the `gw_port` DNAT map carry a lease that this heartbeat renews several times
 * per lease. If the gateway dies (kill -9, crash), hangs, or its event loop is starved by load, renewals stop,
 * the elements expire in the kernel and plant traffic goes direct — with the allowlists still in force. The
 * renewals go through one long-lived `nft -i`, one transaction per line.
 */
export class SteeringHeartbeat {
  private nft: ChildProcess | null = null;
  private timer: NodeJS.Timeout | null = null;
  private leases: SteerLease[] = [];
  private errors = '';
  private pendingCheck: NodeJS.Timeout | null = null;
  readonly leaseMs: number;
  private readonly intervalMs: number;

  constructor(private readonly opts: HeartbeatOptions) {
    this.leaseMs = opts.leaseMs ?? DEFAULT_SETTINGS.gateway.lease_ms;
    this.intervalMs = opts.intervalMs ?? DEFAULT_SETTINGS.gateway.heartbeat_ms;
  }

  /** Steer these servers to the gateway from now on (replaces the previous list at the next renewal). */
  set(leases: SteerLease[]): void {
    this.leases = leases;
    this.beat();
  }

  start(): void {
    this.timer = setInterval(() => this.beat(), this.intervalMs);
    this.beat();
  }

  /** Stop steering at once (a clean stop does not wait for the leases to run out). */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.leases = [];
    this.send(this.flushLine());
    const n = this.nft;
    this.nft = null;
    n?.stdin?.end();
  }

  private beat(): void {
    this.send(`${this.flushLine()}; ${this.leaseLine()}`);
  }

  private flushLine(): string {
    const parts = [`flush map ip ${TABLE} gw_port`];
    if (this.opts.family === 'bridge') parts.unshift(`flush set bridge ${TABLE} gw_live`);
    return parts.join('; ');
  }

  /** One transaction: the flush above and these adds commit together, so a lease never lapses in between. */
  private leaseLine(): string {
    if (this.leases.length === 0) return '';
    const port = `add element ip ${TABLE} gw_port { ${this.leases.map((l) => `${l.server} . ${l.port} timeout ${this.leaseMs + 500}ms : ${l.listenPort}`).join(', ')} }`;
    if (this.opts.family !== 'bridge') return port;
    // The bridge lease is shorter than the DNAT lease: a frame is never handed up without a DNAT to meet it.
    return `add element bridge ${TABLE} gw_live { ${this.leases.map((l) => `${l.server} . ${l.port} timeout ${this.leaseMs}ms`).join(', ')} }; ${port}`;
  }

  private send(line: string): void {
    const n = this.process();
    if (n === null) return;
    try {
      n.stdin!.write(`${line.replace(/; $/, '')}\n`);
    } catch (err) {
      this.opts.onResult(false, (err as Error).message);
      return;
    }
    // nft -i answers errors on stderr and says nothing on success: judge each renewal after a moment.
    if (this.pendingCheck === null) {
      this.pendingCheck = setTimeout(
        () => {
          this.pendingCheck = null;
          const e = this.errors.trim();
          this.errors = '';
          this.opts.onResult(
            e === '',
            e === '' ? null : (e.split('\n').find((l) => l.startsWith('Error')) ?? e.slice(0, 200)),
          );
        },
        Math.min(100, this.intervalMs / 2),
      );
      this.pendingCheck.unref();
    }
  }

  private process(): ChildProcess | null {
    if (this.nft !== null && this.nft.exitCode === null) return this.nft;
    try {
      const n = spawn('nft', ['-i'], {
        stdio: ['pipe', 'ignore', 'pipe'],
        env: { ...process.env, TZ: 'UTC' },
      });
      n.stderr!.on('data', (d: Buffer) => {
        this.errors = (this.errors + d.toString()).slice(-4000);
      });
      n.on('error', (err) => {
        this.errors += `Error: cannot run nft: ${err.message}\n`;
      });
      n.stdin!.on('error', () => {
        /* nft exited; respawned at the next beat */
      });
      n.on('exit', () => {
        if (this.nft === n) this.nft = null;
      });
      this.nft = n;
      return n;
    } catch (err) {
      this.opts.onResult(false, `cannot run nft: ${(err as Error).message}`);
      return null;
    }
  }
}
