// A small plant in network namespaces: hosts on one bridge inside a `fw` namespace (where enforcement will
// sit later). Addresses exist only inside these namespaces; nothing touches the host's interfaces.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export const SUBNET = '10.77.0';
export const HOSTS = {
  hmi: `${SUBNET}.10`,
  plc1: `${SUBNET}.21`,
  plc2: `${SUBNET}.22`,
  ews: `${SUBNET}.30`,
  historian: `${SUBNET}.40`,
  attacker: `${SUBNET}.66`,
} as const;
export type Host = keyof typeof HOSTS;

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Whether this process may build namespaces (root with iproute2). */
export function canBuildLab(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export class Plant {
  private readonly children: ChildProcess[] = [];
  private readonly onSignal = () => {
    this.downSync();
    process.exit(130);
  };

  private constructor(readonly prefix: string) {}

  ns(host: Host | 'fw'): string {
    return `${this.prefix}-${host}`;
  }

  ip(host: Host): string {
    return HOSTS[host];
  }

  /** Build the namespaces, the bridge and one veth per host; everything is removed again by down(). */
  static up(prefix = `weir-${randomBytes(3).toString('hex')}`): Plant {
    const p = new Plant(prefix);
    process.once('SIGINT', p.onSignal);
    process.once('SIGTERM', p.onSignal);
    try {
      const fw = p.ns('fw');
      ip('netns', 'add', fw);
      ip('-n', fw, 'link', 'set', 'lo', 'up');
      ip('-n', fw, 'link', 'add', 'br0', 'type', 'bridge');
      ip('-n', fw, 'link', 'set', 'br0', 'up');
      let i = 0;
      for (const [host, addr] of Object.entries(HOSTS) as Array<[Host, string]>) {
        const ns = p.ns(host);
        const outer = `v${prefix.slice(-6)}${i++}`;
        ip('netns', 'add', ns);
        ip('-n', ns, 'link', 'set', 'lo', 'up');
        // Create the pair inside fw, then move the host end into the host namespace.
        ip('-n', fw, 'link', 'add', outer, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
        ip('-n', fw, 'link', 'set', outer, 'master', 'br0');
        ip('-n', fw, 'link', 'set', outer, 'up');
        ip('-n', ns, 'addr', 'add', `${addr}/24`, 'dev', 'eth0');
        ip('-n', ns, 'link', 'set', 'eth0', 'up');
      }
      return p;
    } catch (e) {
      p.downSync();
      throw e;
    }
  }

  /** Run a command inside a host namespace and wait for it. */
  exec(host: Host | 'fw', cmd: string, args: string[], opts: { timeoutMs?: number } = {}): string {
    return execFileSync('ip', ['netns', 'exec', this.ns(host), cmd, ...args], {
      timeout: opts.timeoutMs ?? 60_000,
      stdio: ['ignore', 'pipe', 'pipe'],
    }).toString();
  }

  /** The MAC of a host's interface (what frames to it are addressed to). */
  mac(host: Host): string {
    const links = JSON.parse(this.exec(host, 'ip', ['-j', 'link', 'show', 'eth0'])) as Array<{
      address: string;
    }>;
    return links[0]!.address;
  }

  /** Start a long-running process inside a host namespace; stopped by down(). */
  spawn(host: Host | 'fw', cmd: string, args: string[]): ChildProcess {
    const c = spawn('ip', ['netns', 'exec', this.ns(host), cmd, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.children.push(c);
    return c;
  }

  /** Capture everything crossing the bridge into `file`; the returned function stops it and waits for the file. */
  capture(file: string): () => Promise<void> {
    const c = this.spawn('fw', 'tcpdump', ['-i', 'br0', '-U', '-n', '-w', file]);
    return () =>
      new Promise((resolve) => {
        c.once('close', () => resolve());
        c.kill('SIGINT');
      });
  }

  async down(): Promise<void> {
    await Promise.all(
      this.children.map(
        (c) =>
          new Promise<void>((r) => {
            if (c.exitCode !== null || c.signalCode !== null) return r();
            c.once('close', () => r());
            c.kill('SIGTERM');
            setTimeout(() => {
              c.kill('SIGKILL');
              r();
            }, 2000).unref();
          }),
      ),
    );
    this.downSync();
  }

  private downSync(): void {
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
    for (const c of this.children) if (c.exitCode === null) c.kill('SIGKILL');
    removeNamespaces(this.prefix);
  }
}

/** Remove every namespace whose name starts with `prefix-` (also cleans up after a crashed run). */
export function removeNamespaces(prefix: string): void {
  let names: string[] = [];
  try {
    names = execFileSync('ip', ['netns', 'list'])
      .toString()
      .split('\n')
      .map((l) => l.split(' ')[0]!)
      .filter(Boolean);
  } catch {
    return;
  }
  for (const n of names) {
    if (!n.startsWith(`${prefix}-`)) continue;
    try {
      execFileSync('ip', ['netns', 'pids', n])
        .toString()
        .split('\n')
        .filter(Boolean)
        .forEach((pid) => {
          try {
            process.kill(Number(pid), 'SIGKILL');
          } catch {
            /* gone */
          }
        });
    } catch {
      /* none */
    }
    try {
      ip('netns', 'del', n);
    } catch {
      /* already gone */
    }
  }
}

export function listNamespaces(prefix: string): string[] {
  try {
    return execFileSync('ip', ['netns', 'list'])
      .toString()
      .split('\n')
      .map((l) => l.split(' ')[0]!)
      .filter((n) => n.startsWith(`${prefix}-`));
  } catch {
    return [];
  }
}
