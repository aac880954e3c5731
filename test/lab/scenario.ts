// The bundled sample plant: ~40 s of normal operations, then an engineering stop and an intruder.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Plant, HOSTS } from './plant.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const agent = path.join(here, 'agents/run.js');
const modbusServer = path.resolve(here, '../../../test/lab/agents/modbus_server.py');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Start the PLC servers and wait until they accept connections. */
export async function startPlcs(lab: Plant): Promise<void> {
  for (const c of [
    lab.spawn('plc1', '/usr/bin/python3', [modbusServer, HOSTS.plc1]),
    lab.spawn('plc2', process.execPath, [agent, 's7-server', HOSTS.plc2]),
  ]) {
    let err = '';
    c.stderr!.on('data', (d: Buffer) => {
      err = (err + d.toString()).slice(-4000);
    });
    c.stdout!.resume();
    c.on('exit', (code, sig) => {
      if (sig !== 'SIGTERM' && sig !== 'SIGKILL')
        process.stderr.write(
          `lab server ${c.spawnargs.slice(-2).join(' ')} exited (${code ?? sig}): ${err}\n`,
        );
    });
  }
  for (let i = 0; i < 50; i++) {
    try {
      lab.exec('hmi', process.execPath, [agent, 'reader', HOSTS.plc1], { timeoutMs: 5000 });
      return;
    } catch {
      await sleep(200);
    }
  }
  throw new Error('lab PLCs did not come up');
}

export function runAgent(
  lab: Plant,
  host: Parameters<Plant['spawn']>[0],
  ...args: string[]
): Promise<number> {
  const c = lab.spawn(host, process.execPath, [agent, ...args]);
  let err = '';
  c.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  return new Promise((resolve) =>
    c.on('close', (code) => {
      if (code) process.stderr.write(`agent ${args[0]} on ${host}: ${err}`);
      resolve(code ?? 1);
    }),
  );
}

/** Record the sample capture: returns when `file` is complete. */
export async function recordSample(lab: Plant, file: string, seconds = 40): Promise<void> {
  await startPlcs(lab);
  const stop = lab.capture(file);
  await sleep(500);
  const normal = [
    runAgent(lab, 'hmi', 'hmi', HOSTS.plc1, String(seconds)),
    runAgent(lab, 'historian', 'historian', HOSTS.plc1, HOSTS.plc2, String(seconds)),
  ];
  await sleep(2000);
  await runAgent(lab, 'ews', 'ews', HOSTS.plc1, HOSTS.plc2);
  await sleep(seconds * 1000 * 0.6);
  // Second part: an engineer stops PLC 2, then an intruder scans PLC 1 and writes to it.
  await runAgent(lab, 'ews', 'ews-stop', HOSTS.plc2);
  await sleep(1000);
  lab.exec(
    'attacker',
    'nmap',
    ['-n', '-Pn', '-sS', '-p', '1-200,502', '--max-retries', '0', '-T4', HOSTS.plc1],
    { timeoutMs: 60_000 },
  );
  await runAgent(lab, 'attacker', 'attacker-write', HOSTS.plc1);
  await Promise.all(normal);
  await sleep(500);
  await stop();
}

async function main(): Promise<void> {
  const out = path.resolve(process.argv[2] ?? 'fixtures/plant.pcap');
  const lab = Plant.up();
  try {
    await recordSample(lab, out, Number(process.argv[3] ?? 40));
    console.log(`wrote ${out}`);
  } finally {
    await lab.down();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
