// Policy simulation: a least-privilege policy proposed from the benchmark input's own baseline, replayed over
// the same 1M-frame input, as the CLI runs it and in process. Target (issue 4): under 5 s.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { readCaptureSync } from '../src/capture/source.js';
import { DissectPipeline } from '../src/dissect/pipeline.js';
import { Inventory } from '../src/discover/inventory.js';
import { ValueRanges } from '../src/discover/values.js';
import { baselineFrom } from '../src/discover/baseline.js';
import { proposePolicy } from '../src/policy/propose.js';
import { policyToYaml } from '../src/policy/write.js';
import { parsePolicy } from '../src/policy/load.js';
import { CompiledPolicy } from '../src/policy/evaluate.js';
import { Simulator } from '../src/policy/simulate.js';
import { machine, median, root, today, writeSection } from './results.js';

export function recordPolicySimulation(file: string, runs: number): void {
  const inv = new Inventory();
  const v = new ValueRanges();
  const p0 = new DissectPipeline([inv, v]);
  const s0 = readCaptureSync(file, (f) => p0.push(f));
  const snap = inv.snapshot();
  const baseline = baselineFrom(snap, v.ranges(), { version: 1, sources: [file] });
  const policyFile = path.join(path.dirname(file), 'policy.yaml');
  writeFileSync(
    policyFile,
    policyToYaml(proposePolicy(baseline, snap.assets, { edges: snap.edges })),
  );
  const loaded = parsePolicy(readText(policyFile), policyFile);
  if (!loaded.ok) throw new Error('proposed policy does not load');
  const pol = loaded.policy;
  const cli = path.join(root, 'dist/src/cli/main.js');
  const tCli: number[] = [],
    tIn: number[] = [];
  let blocked = 0,
    packets = 0;
  for (let i = 0; i < runs; i++) {
    let t0 = process.hrtime.bigint();
    const r = spawnSync(
      process.execPath,
      [cli, 'policy', 'simulate', policyFile, '--capture', file, '--json'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    if (r.status !== 0) throw new Error(`weir policy simulate failed: ${r.stderr}`);
    tCli.push(Number(process.hrtime.bigint() - t0) / 1e9);
    t0 = process.hrtime.bigint();
    const sim = new Simulator(new CompiledPolicy(pol), baseline);
    const p = new DissectPipeline([sim]);
    readCaptureSync(file, (f) => p.push(f));
    const res = sim.result();
    tIn.push(Number(process.hrtime.bigint() - t0) / 1e9);
    blocked = res.blocked.length;
    packets = res.packets;
  }
  const body = [
    `## policy simulation (${today()})`,
    '',
    `Machine: ${machine()}.`,
    '',
    `Input: the ${s0.frames.toLocaleString('en-US')}-frame benchmark capture. Policy: proposed by \`weir policy propose\` from that capture's own baseline (${pol.zones.length} zones, ${pol.conduits.length} conduits, ${pol.groups.length.toLocaleString('en-US')} context groups, one per learned flow, with function and address lists). Median of ${runs} runs.`,
    '',
    '| what | median s | packets/s |',
    '| --- | ---: | ---: |',
    `| weir policy simulate (CLI, whole command, JSON out) | ${median(tCli).toFixed(2)} | ${Math.round(packets / median(tCli)).toLocaleString('en-US')} |`,
    `| dissect + simulate (in process) | ${median(tIn).toFixed(2)} | ${Math.round(packets / median(tIn)).toLocaleString('en-US')} |`,
    '',
    `Target (issue 4): a 1M-packet capture simulated in under 5 s — **${median(tCli) < 5 ? 'met' : 'not met'}** (${median(tCli).toFixed(2)} s for the whole command). Blocked entries in this run: ${blocked} (the policy was learned from the same traffic, so none are expected). Per-run seconds: CLI ${tCli.map((t) => t.toFixed(2)).join(', ')}; in process ${tIn.map((t) => t.toFixed(2)).join(', ')}.`,
    '',
  ].join('\n');
  console.log(body);
  writeSection('policy simulation', body);
}

function readText(f: string): string {
  return readFileSync(f, 'utf8');
}
