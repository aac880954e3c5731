// Detectors against real peers in the namespace lab: normal operations are learned, then each deviation
// is produced by a real tool (modbus-serial, nmap, arping) and must be detected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Plant, HOSTS, canBuildLab } from '../lab/plant.js';
import { runAgent, startPlcs } from '../lab/scenario.js';
import { learnThenDetectAt } from '../../bench/detect.js';

const skip = !canBuildLab() && process.env.CI !== 'true' ? 'needs root and iproute2' : false;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test(
  'real peers: odd functions, out-of-range setpoint, sweep, flood, ARP spoofing and a stopped poll are detected',
  { skip, timeout: 180_000 },
  async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-lab-'));
    const file = path.join(dir, 'lab.pcap');
    const lab = Plant.up();
    let split = 0;
    try {
      await startPlcs(lab);
      const stop = lab.capture(file);
      await sleep(500);
      const hmi = runAgent(lab, 'hmi', 'hmi', HOSTS.plc1, '22');
      const historian = runAgent(lab, 'historian', 'historian', HOSTS.plc1, HOSTS.plc2, '32');
      await sleep(12_000);
      split = Date.now() / 1000;
      await runAgent(lab, 'hmi', 'hmi-odd', HOSTS.plc1);
      lab.exec(
        'attacker',
        'nmap',
        ['-n', '-sn', '--send-ip', '--max-retries', '0', `${HOSTS.hmi}-30`],
        { timeoutMs: 60_000 },
      );
      await runAgent(lab, 'attacker', 'flood', HOSTS.plc1, '2');
      await hmi; // the HMI stops 10 s before the historian: its poll goes quiet
      await sleep(8_000);
      // Last, the attacker takes PLC 1's address and announces it (gratuitous ARP): a man-in-the-middle set-up.
      lab.exec('attacker', 'ip', ['addr', 'add', `${HOSTS.plc1}/32`, 'dev', 'eth0']);
      lab.exec(
        'attacker',
        'arping',
        ['-U', '-c', '2', '-I', 'eth0', '-s', HOSTS.plc1, HOSTS.plc1],
        { timeoutMs: 10_000 },
      );
      await historian;
      await sleep(300);
      await stop();
    } finally {
      await lab.down();
    }
    try {
      const r = learnThenDetectAt(file, split);
      const types = new Set(r.detections.map((d) => d.type));
      for (const want of [
        'function_outside_profile',
        'value_out_of_range',
        'host_scan',
        'flood',
        'arp_spoofing',
        'polling_stopped',
        'new_asset',
      ]) {
        assert.ok(types.has(want as never), `${want} missing; got ${[...types].join(', ')}`);
      }
      const spoof = r.detections.find((d) => d.type === 'arp_spoofing')!;
      assert.equal(spoof.dst, HOSTS.plc1);
      const value = r.detections.find((d) => d.type === 'value_out_of_range')!;
      assert.equal(value.evidence.fields.value, 999);
      const stopped = r.detections.find((d) => d.type === 'polling_stopped')!;
      assert.equal(stopped.src, HOSTS.hmi);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
