// What the fleet tests share: free loopback ports, a manager folder with sites, and an enforcement backend
// that keeps its blocks in memory (for the transport tests; the lab tests use nftables in namespaces).
import { createServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type {
  BlockResult,
  EnforcementBackend,
  HostStatus,
  PermitFlow,
  PermitResult,
  TemporaryPermit,
  UnblockResult,
} from '../../src/enforce/backend.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A port nothing listens on now (the OS picks it). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

const made: string[] = [];
export const tempDir = (name: string): string => {
  const d = mkdtempSync(path.join(tmpdir(), `weir-${name}-`));
  made.push(d);
  return d;
};
process.once('exit', () => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

export async function until(
  what: string,
  ok: () => boolean | Promise<boolean>,
  ms = 15_000,
): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await ok()) return;
    await sleep(25);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Enforcement that only remembers: blocks with their expiry, policies applied in order. */
export class MemoryBackend implements EnforcementBackend {
  readonly name = 'memory';
  readonly blocks = new Map<string, number>();
  readonly applied: string[] = [];
  readonly log: string[] = [];

  apply(req: Parameters<EnforcementBackend['apply']>[0]): ReturnType<EnforcementBackend['apply']> {
    this.applied.push(req.source.text);
    return Promise.resolve({
      plan: null,
      ruleset: null,
      result: null,
      gateway: 'not running',
    } as never);
  }
  remove(): boolean {
    return false;
  }
  unsteer(): number {
    return 0;
  }
  block(address: string, ttlSeconds: number, comment = ''): Promise<BlockResult> {
    const until = Math.floor(Date.now() / 1000) + ttlSeconds;
    this.blocks.set(address, until);
    this.log.push(`block ${address}`);
    return Promise.resolve({ address, ttlSeconds, until, comment });
  }
  unblock(address: string, comment = ''): Promise<UnblockResult> {
    this.blocks.delete(address);
    this.log.push(`unblock ${address}`);
    return Promise.resolve({ address, comment });
  }
  permit(flow: PermitFlow, ttlSeconds: number, comment = ''): Promise<PermitResult> {
    return Promise.resolve({ flow, ttlSeconds, until: 0, comment });
  }
  permits(): Promise<TemporaryPermit[]> {
    return Promise.resolve([]);
  }
  grantedPermits(): TemporaryPermit[] {
    return [];
  }
  revokePermit(): Promise<void> {
    return Promise.resolve();
  }
  restorePermit(): Promise<void> {
    return Promise.resolve();
  }
  status(): HostStatus {
    return {
      loaded: this.applied.length > 0,
      blocked: [...this.blocks.keys()].map((address) => ({ address })),
      applied: null,
      gateway: { state: 'none' },
    } as unknown as HostStatus;
  }
  close(): void {}
}

/**
 * A TCP relay on loopback standing for a site's WAN link to the hub: cut() drops every connection through it
 * and refuses new ones (as a cable pulled), restore() lets them through again.
 */
export class Link {
  private readonly sockets = new Set<import('node:net').Socket>();
  private up = true;
  private constructor(
    private readonly server: import('node:net').Server,
    readonly port: number,
  ) {}

  static async open(targetPort: number): Promise<Link> {
    const net = await import('node:net');
    let link: Link | null = null;
    const server = net.createServer((inbound) => {
      if (!link!.up) return void inbound.destroy();
      const outbound = net.connect(targetPort, '127.0.0.1');
      for (const s of [inbound, outbound]) {
        link!.sockets.add(s);
        s.on('close', () => link!.sockets.delete(s));
        s.on('error', () => undefined);
      }
      inbound.pipe(outbound);
      outbound.pipe(inbound);
      inbound.on('close', () => outbound.destroy());
      outbound.on('close', () => inbound.destroy());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const a = server.address();
    link = new Link(server, typeof a === 'object' && a ? a.port : 0);
    return link;
  }

  cut(): void {
    this.up = false;
    for (const s of this.sockets) s.destroy();
  }

  restore(): void {
    this.up = true;
  }

  close(): Promise<void> {
    this.cut();
    return new Promise((r) => this.server.close(() => r()));
  }
}
