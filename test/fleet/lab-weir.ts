// weir commands in the plant's namespaces (test/lab/plant.ts) with a settings file of the test's: one that runs
// to its end, and long-running ones (manager run, node) started and waited for until they say they are ready.
import type { ChildProcess } from 'node:child_process';
import type { Host, Plant } from '../lab/plant.js';
import { cli, sleep } from '../enforce/lab-kit.js';

export interface WeirProcess {
  proc: ChildProcess;
  /** Everything it wrote to stderr so far. */
  said(): string;
}

export interface LabWeir {
  run(host: Host | 'fw', ...args: string[]): string;
  start(host: Host | 'fw', ready: RegExp, args: string[]): Promise<WeirProcess>;
  stop(p: WeirProcess): Promise<void>;
}

export function labWeir(lab: Plant, settingsFile: string): LabWeir {
  const env = [`WEIR_CONFIG=${settingsFile}`, process.execPath, cli];
  return {
    run: (host, ...args) => lab.exec(host, 'env', [...env, ...args]),
    start: async (host, ready, args) => {
      const proc = lab.spawn(host, 'env', [...env, ...args]);
      let err = '';
      proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      proc.stdout!.resume();
      for (let i = 0; i < 300 && !ready.test(err); i++) {
        if (proc.exitCode !== null) throw new Error(`${args[0]} exited ${proc.exitCode}: ${err}`);
        await sleep(100);
      }
      if (!ready.test(err)) throw new Error(`${args[0]} not ready: ${err}`);
      return { proc, said: () => err };
    },
    stop: (p) =>
      new Promise((r) => {
        if (p.proc.exitCode !== null) return r();
        p.proc.once('close', () => r());
        p.proc.kill('SIGTERM');
      }),
  };
}
