/**
 * Runs a nats-server (Debian's, from PATH) on a configuration file: started, waited for until it says it is
 * ready, stopped. The fleet's manager and nodes each run their own; tests start and kill them too.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, writeFileSync } from 'node:fs';

export interface NatsServerOptions {
  /** Run inside this network namespace (ip netns exec). */
  netns?: string;
  /** Where the server's log goes (appended). */
  logFile?: string;
  readyTimeoutMs?: number;
}

export class NatsServer {
  private constructor(
    readonly child: ChildProcess,
    readonly configFile: string,
  ) {}

  /** Write `config` to `configFile` and start a server on it; resolves once it accepts connections. */
  static async start(
    configFile: string,
    config: string,
    o: NatsServerOptions = {},
  ): Promise<NatsServer> {
    writeFileSync(configFile, config, { mode: 0o600 });
    const [cmd, args] =
      o.netns === undefined
        ? ['nats-server', ['-c', configFile]]
        : ['ip', ['netns', 'exec', o.netns, 'nats-server', '-c', configFile]];
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    const log = o.logFile ? createWriteStream(o.logFile, { flags: 'a' }) : null;
    let seen = '';
    let ready = false;
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(
        () => fail(new Error(`nats-server not ready: ${seen.slice(-500)}`)),
        o.readyTimeoutMs ?? 10_000,
      );
      function fail(e: Error): void {
        clearTimeout(t);
        child.kill('SIGKILL');
        reject(e);
      }
      child.once('error', (e) => fail(new Error(`nats-server: ${e.message}`)));
      const onEarlyExit = (code: number | null): void =>
        fail(new Error(`nats-server exited (${code}): ${seen.slice(-800)}`));
      child.once('exit', onEarlyExit);
      child.stderr!.on('data', (d: Buffer) => {
        log?.write(d);
        if (seen.length < 20_000) seen += d.toString();
        if (!ready && /Server is ready/.test(seen)) {
          ready = true;
          clearTimeout(t);
          child.removeListener('exit', onEarlyExit);
          resolve();
        }
      });
    });
    return new NatsServer(child, configFile);
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Stop it: SIGTERM (a clean shutdown) or SIGKILL (a crash); resolves once it is gone. */
  stop(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => {
      this.child.once('exit', () => resolve());
      this.child.kill(signal);
    });
  }
}

/** Wait for `p`, but no longer than `ms` (a shutdown step that hangs must not keep the process). */
export function within(ms: number, p: Promise<unknown>): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    t.unref();
    void p.then(
      () => {
        clearTimeout(t);
        resolve();
      },
      () => {
        clearTimeout(t);
        resolve();
      },
    );
  });
}
