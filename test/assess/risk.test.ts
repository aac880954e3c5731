/**
 * Exposure paths, risk and the patch plan on the lab plant (fixtures/plant.pcap: HMI 10.77.0.10, PLCs
 * 10.77.0.21/.22, engineering workstation 10.77.0.30, an intruder 10.77.0.66 writing to the Modbus PLC).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openStore } from '../../src/store/db.js';
import { importFeed } from '../../src/assess/advisories/import.js';
import { riskReport } from '../../src/assess/risk-report.js';
import { parsePolicy } from '../../src/policy/load.js';
import { activate } from '../helpers/approved-store.js';
import { repoRoot } from '../helpers/paths.js';
import { detectedPlantStore } from '../helpers/plant-fixtures.js';
import { weir, weirOk } from '../helpers/weir-cli.js';

const plant = path.join(repoRoot, 'fixtures/plant.pcap');

const ZONES = `weir: policy/1
site: lab
timezone: Europe/Berlin
zones:
  - { name: supervisory, members: [10.77.0.0/28], security_level: 2, mode: monitor }
  - { name: control, members: [10.77.0.16/28], security_level: 3, mode: monitor }
  - { name: it, description: office network, members: [10.77.0.64/26], security_level: 1, mode: monitor }
conduits:
  - { name: sup-ctl, from: supervisory, to: control }
  - { name: it-ctl, from: it, to: control }
windows:
  - { name: maintenance, days: [sat], from: "02:00", to: "04:00" }
`;
const PROPOSED =
  ZONES +
  `groups:
  - { name: hmi-reads, conduit: sup-ctl, clients: [10.77.0.10], servers: [10.77.0.21], protocol: modbus, ports: [502], access: read-only }
`;

test('exposure paths on the lab plant: lower-trust sources first, conduits named, a proposed policy removes write paths', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-risk-'));
  try {
    const file = detectedPlantStore(dir);
    activate(file, ZONES.replace('windows:', 'groups: []\nwindows:'));
    const db = openStore(file);
    await importFeed(db, path.join(repoRoot, 'fixtures/advisories'));
    const proposed = parsePolicy(PROPOSED, 'proposed.yaml');
    assert.ok(proposed.ok);
    const r = riskReport(db, { proposed: { policy: proposed.policy, source: 'proposed.yaml' } });
    db.close();

    const ps = r.exposure.paths;
    assert.equal(r.exposure.targets, 2);
    assert.deepEqual(
      ps.map((p) => `${p.source}>${p.target}`),
      [
        '10.77.0.66>10.77.0.21',
        '10.77.0.10>10.77.0.21',
        '10.77.0.30>10.77.0.21',
        '10.77.0.30>10.77.0.22',
      ],
      'the intruder in the IT zone first, then the HMI (SL 2), then the workstation inside the control zone',
    );
    assert.equal(ps[0]!.sourceZone, 'it');
    assert.equal(ps[0]!.hops[0]!.conduit, 'it-ctl');
    assert.match(
      ps[0]!.summary,
      /10\.77\.0\.66 \(scanner, zone it\) —modbus\/502 via conduit it-ctl \[WRITE_SINGLE_COIL ×2, WRITE_SINGLE_REGISTER ×2\]→ 10\.77\.0\.21 \(plc, zone control\)/,
    );
    assert.equal(ps[1]!.hops[0]!.conduit, 'sup-ctl');
    const stop = ps.find((p) => p.target === '10.77.0.22')!;
    assert.deepEqual(stop.categories.sort(), ['control', 'write']);
    assert.match(stop.summary, /PLC_STOP ×2/);

    // The proposed policy: the HMI may only read, nothing from IT reaches the PLC; the workstation inside
    // the control zone keeps its paths (zones allow internal traffic by default).
    const removed = r.proposed!.removed.map((x) => `${x.path.source}>${x.path.target}: ${x.why}`);
    assert.deepEqual(removed, [
      '10.77.0.66>10.77.0.21: no context group allows 10.77.0.66 → 10.77.0.21 modbus/502',
      '10.77.0.10>10.77.0.21: groups hmi-reads allow 10.77.0.10 → 10.77.0.21 only without write functions',
    ]);
    assert.equal(r.proposed!.kept.length, 2);

    // Risk: the Modbus PLC (three writers, one from IT, detections) above the S7 PLC; factors in words.
    const [first, second] = r.risk.assets;
    assert.equal(first!.assetId, '10.77.0.21');
    assert.equal(second!.assetId, '10.77.0.22');
    assert.match(first!.consequence.why, /plc in zone control \(SL 3\)/);
    assert.match(
      first!.exposure.why,
      /3 write-capable paths \(3 direct\), 1 from lower-trust zones or outside every zone \(10\.77\.0\.66\)/,
    );
    assert.match(first!.detection.why, /open detections? \(.*critical/);
    assert.match(
      second!.vulnerability.why,
      /2 advisories apply, worst CVSS 7\.5 \(ICSA-19-043-04\); a vendor fix exists/,
    );
    assert.ok(first!.score > 0 && first!.score <= 100);
    assert.equal(r.risk.zones[0]!.zone, 'control');

    // Patch plan: the vulnerable S7 PLC in the maintenance window, with what a restart interrupts.
    assert.equal(r.patchPlan.length, 1);
    const step = r.patchPlan[0]!;
    assert.equal(step.assetId, '10.77.0.22');
    assert.equal(step.window?.name, 'maintenance');
    assert.ok(
      step.interrupts.some((i) => /10\.77\.0\.40 polls it over s7comm\/102 every/.test(i)),
      step.interrupts.join('; '),
    );

    // The CLI prints the same, removed paths marked.
    writeFileSync(path.join(dir, 'proposed.yaml'), PROPOSED);
    const out = (
      await weirOk([
        'assess',
        'exposure',
        '--db',
        file,
        '--proposed',
        path.join(dir, 'proposed.yaml'),
      ])
    ).stdout;
    assert.match(out, /^4 write-capable paths into 2 PLCs\/RTUs/);
    assert.match(
      out,
      /10\.77\.0\.66 \(scanner, zone it\).*\[removed by .*proposed\.yaml: no context group allows/,
    );
    assert.match(out, /removes 2 of 4 paths/);
    // Next to its simulation: the same count of removed write paths.
    const sim = await weir([
      'policy',
      'simulate',
      path.join(dir, 'proposed.yaml'),
      '--capture',
      plant,
      '--baseline',
      file,
    ]);
    assert.match(
      sim.stdout,
      /exposure: removes 2 of 4 write-capable paths into PLCs\/RTUs seen in .*\(weir assess exposure --db/,
    );
    const risk = (await weirOk(['assess', 'risk', '--db', file], { env: { COLUMNS: '250' } }))
      .stdout;
    assert.match(risk, /RISK\s+ASSET\s+ROLE\s+ZONE\s+WHY/);
    const plan = (await weirOk(['assess', 'patch-plan', '--db', file])).stdout;
    assert.match(plan, /1\. 10\.77\.0\.22 .*\(zone control\), risk \d+: ICSA-/);
    assert.match(plan, /apply in maintenance \(sat 02:00–04:00 Europe\/Berlin\), next 20/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
