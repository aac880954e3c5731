import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spoofedSourcesPcap, writeCapture } from '../helpers/hostile-captures.js';
import { weir, weirOk } from '../helpers/weir-cli.js';
import { modbusRequest } from '../helpers/ics-frames.js';
import { pcap, TcpFlow } from '../fixtures-gen/pcap-writer.js';

const ALLOW_NOTHING =
  'weir: policy/1\nsite: t\ntimezone: UTC\nzones:\n  - name: plant\n    members: [ 0.0.0.0/0 ]\n    mode: observe\n    internal: restrict\n    approvals: [ security ]\n';

test('a flood of forged senders: simulate and drift count every flow, show a readable part, and say how many more', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-counts-flood-'));
  try {
    const capture = writeCapture(path.join(dir, 'spoofed.pcap'), spoofedSourcesPcap(6000));
    const policy = path.join(dir, 'policy.yaml');
    writeFileSync(policy, ALLOW_NOTHING);

    const sim = await weir(['policy', 'simulate', policy, '--capture', capture]);
    assert.equal(sim.code, 0, sim.stderr);
    assert.match(sim.stdout, /^6000 flows would break/);
    const table = sim.stdout.split('\n').filter((l) => l.startsWith('plant '));
    assert.equal(table.length, 5000, 'the table stops at 5000 rows');
    assert.match(sim.stdout, /\n… 1000 more rows not shown \(--json lists them all\)\n/);

    const drift = await weir(['policy', 'drift', policy, '--capture', capture]);
    assert.equal(drift.code, 2);
    assert.match(drift.stdout, /^6000 flows run that the policy does not allow/);
    assert.equal(
      drift.stdout.split('\n').filter((l) => /^ {2}(critical|high|medium|low) /.test(l)).length,
      20,
    );
    assert.match(drift.stdout, /… 5980 more rows \(--json lists them all\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a write hidden among the probes of a scan is not folded into the scan: it carried a request', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-counts-hidden-'));
  try {
    const plc = { mac: '02:00:00:00:00:01', ip: '10.0.0.1', port: 0 };
    const rogue = (port: number) => ({
      mac: '02:00:00:00:00:66',
      ip: '10.0.0.66',
      port: 40000 + port,
    });
    const frames: Buffer[] = [];
    // 30 bare SYNs (a scan), and on 502 one segment carrying a Modbus write single register: 1 packet, like a probe.
    for (let p = 1; p <= 30; p++)
      frames.push(new TcpFlow(rogue(p), { ...plc, port: p }).handshake()[0]!);
    frames.splice(
      10,
      0,
      new TcpFlow(rogue(502), { ...plc, port: 502 }).send(
        true,
        Buffer.from(modbusRequest(1, 6, [0, 200, 0, 99])),
      ),
    );
    const capture = writeCapture(path.join(dir, 'hidden.pcap'), pcap(frames));
    const policy = path.join(dir, 'policy.yaml');
    writeFileSync(policy, ALLOW_NOTHING);

    const disc = (await weirOk(['discover', capture])).stdout;
    assert.match(
      disc,
      /31 edges in 2 rows \(30 of them are connection attempts of 1 scan, folded into 1 row\)/,
    );
    assert.match(disc, /10\.0\.0\.66 +10\.0\.0\.1 +modbus +tcp\/502/);

    const sim = (await weir(['policy', 'simulate', policy, '--capture', capture])).stdout;
    assert.match(sim, /^31 flows would break .*\(30 of them are connection attempts of 1 scan/);
    assert.match(sim, /10\.0\.0\.66 → 10\.0\.0\.1 tcp\/502 1 packet /);

    const drift = await weir(['policy', 'drift', policy, '--capture', capture]);
    const rows = drift.stdout.split('\n').filter((l) => /^ {2}(critical|high|medium|low) /.test(l));
    assert.equal(rows.length, 2);
    assert.match(
      rows[0]!,
      /^ {2}high +10\.0\.0\.66 → 10\.0\.0\.1 tcp\/502 1 packet .*carrying write requests/,
    );
    assert.match(rows[1]!, /^ {2}medium +10\.0\.0\.66 → 10\.0\.0\.1 tcp 30 ports \(1\.\.30\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
