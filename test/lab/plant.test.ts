import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Plant, HOSTS, canBuildLab, listNamespaces, removeNamespaces } from './plant.js';
import { startPlcs } from './scenario.js';

const agent = path.join(path.dirname(fileURLToPath(import.meta.url)), 'agents/run.js');
const skip = !canBuildLab() && process.env.CI !== 'true' ? 'needs root and iproute2' : false;

test(
  'the lab plant answers real Modbus and S7 requests from every host, and tears down completely',
  { skip, timeout: 120_000 },
  async () => {
    const lab = Plant.up();
    try {
      await startPlcs(lab);
      for (const host of ['hmi', 'ews', 'historian', 'attacker'] as const) {
        const out = lab.exec(host, process.execPath, [agent, 'reader', HOSTS.plc1]);
        // pymodbus 3.0's sequential data block is addressed from 1, so register 0 holds the second value.
        assert.deepEqual(JSON.parse(out), [10, 20, 30], `${host} reads plc1 holding registers`);
      }
      lab.exec('ews', process.execPath, [agent, 'ews', HOSTS.plc1, HOSTS.plc2]);
    } finally {
      await lab.down();
    }
    assert.deepEqual(listNamespaces(lab.prefix), []);
  },
);

test('leftovers of a crashed run are removed by prefix', { skip }, () => {
  const prefix = `weir-crash${process.pid}`;
  execFileSync('ip', ['netns', 'add', `${prefix}-hmi`]);
  execFileSync('ip', ['netns', 'add', `${prefix}-fw`]);
  assert.equal(listNamespaces(prefix).length, 2);
  removeNamespaces(prefix);
  assert.deepEqual(listNamespaces(prefix), []);
});
