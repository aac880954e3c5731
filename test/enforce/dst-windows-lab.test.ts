// Time windows across a UTC offset change (review 12, L2): the kernel reads `meta day`/`meta hour` in UTC, so a
// window compiled with one offset opened an hour off after the next DST change until someone re-applied. The
// windows are now compiled for each stretch of time their zone keeps one offset, bounded by `meta time`. The
// kernel cannot be moved in time, so the zone's offset moves instead: a change that lies behind the compile
// instant must already rule (the window open now), one still ahead must not (closed now). Real peers on an
// enforcing bridge in namespaces.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { parsePolicy } from '../../src/policy/load.js';
import { CompiledPolicy } from '../../src/policy/evaluate.js';
import { compileRuleset } from '../../src/enforce/nft-ruleset.js';
import { applyRuleset, removeRuleset } from '../../src/enforce/nft.js';
import { canBuildLab, HOSTS, Plant } from '../lab/plant.js';
import { repoRoot } from '../helpers/paths.js';
import { sleep } from './lab-kit.js';

const FRAMES = path.join(repoRoot, 'test/enforce/frames.py');
const DAY = 86_400_000;

const POLICY = `weir: policy/1
timezone: Europe/Berlin
zones:
  - { name: supervisory, members: [${HOSTS.hmi}], mode: monitor }
  - { name: control, members: [${HOSTS.plc1}], mode: enforce, simulation_window: 1m }
conduits: [{ name: sup-ctl, from: supervisory, to: control }]
groups:
  - { name: maint, conduit: sup-ctl, clients: [${HOSTS.hmi}], servers: [${HOSTS.plc1}], ports: [5020], access: read-write, windows: [w] }
windows:
  - { name: w, days: [mon, tue, wed, thu, fri, sat, sun], from: "00:00", to: "01:00" }
`;

test(
  'time windows follow a UTC offset change the kernel reaches without a re-apply (review 12, L2)',
  { timeout: 120_000 },
  async (t) => {
    if (!canBuildLab()) {
      if (process.env.CI === 'true') throw new Error('the window lab needs root and iproute2');
      return t.skip('needs root to build network namespaces');
    }
    const r = parsePolicy(POLICY, 'p.yaml');
    assert.ok(r.ok);
    const cp = new CompiledPolicy(r.policy);
    const now = Date.now();
    // An offset under which "now" is 00:30 local (inside the window), and one two hours further (02:30: outside).
    const minuteOfDay = Math.floor((now % DAY) / 60_000);
    const inside = (((30 - minuteOfDay) % 1440) + 1440) % 1440;
    const wrap = (m: number): number => (m > 720 ? m - 1440 : m);
    const openOff = wrap(inside) * 60;
    const shutOff = wrap((inside + 120) % 1440) * 60;
    /** One change, at `change`, from the shut offset to the open one. */
    const zone = (change: number) => (_tz: string, at: Date) =>
      at.getTime() < change ? shutOff : openOff;

    const lab = Plant.up();
    const target = { family: 'bridge' as const, netns: lab.ns('fw') };
    const asks = async (): Promise<string> => {
      const p = lab.spawn('plc1', 'python3', [FRAMES, 'serve', 'tcp', '5020', '10']);
      let out = '';
      p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      for (let i = 0; i < 100 && !out.includes('READY'); i++) await sleep(50);
      const answer = lab
        .exec('hmi', 'python3', [FRAMES, 'ask', 'tcp', HOSTS.plc1, '5020', '0'], {
          timeoutMs: 10_000,
        })
        .trim();
      p.kill('SIGTERM');
      return answer;
    };
    try {
      // Compiled two days ago, the change yesterday: the stretch after it rules now.
      const behind = compileRuleset(cp, {
        family: 'bridge',
        utcOffset: zone(now - DAY),
        at: new Date(now - 2 * DAY),
      });
      assert.match(JSON.stringify(behind.json), /"key":"time"/, 'stretches bounded by meta time');
      applyRuleset(target, behind);
      assert.match(await asks(), /^ANSWER hi/, 'the window is open after a change behind us');
      // Compiled now, the change tomorrow: the offset of today rules.
      const ahead = compileRuleset(cp, {
        family: 'bridge',
        utcOffset: zone(now + DAY),
        at: new Date(now),
      });
      applyRuleset(target, ahead);
      assert.match(await asks(), /^NONE/, 'the window is shut before a change ahead');
      // Without the change, compiled with the open offset throughout: open (the lab itself lets it through).
      applyRuleset(
        target,
        compileRuleset(cp, { family: 'bridge', utcOffset: () => openOff, at: new Date(now) }),
      );
      assert.match(await asks(), /^ANSWER hi/, 'control: the open offset alone opens it');
      removeRuleset(target);
    } finally {
      await lab.down();
    }
  },
);
