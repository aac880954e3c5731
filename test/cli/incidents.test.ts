// `weir detect` files detections into incidents in the store; `weir incidents` lists, shows and acts on them,
// each action by a logged-in person and audited; a rebuild keeps what analysts decided.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repoRoot } from '../helpers/paths.js';
import { policyText } from '../helpers/plant-fixtures.js';
import { person, weir, weirOk } from '../helpers/weir-cli.js';
import { openStore } from '../../src/store/db.js';
import { listAudit } from '../../src/store/audit-store.js';
import type { IncidentSummary } from '../../src/detect/incident.js';

const plant = path.join(repoRoot, 'fixtures/plant.pcap');

test(
  'weir detect files incidents; weir incidents list/show/ack/contain/close/note/rebuild',
  { timeout: 120_000 },
  async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-inc-'));
    const db = path.join(dir, 'weir.db');
    await weirOk(['discover', plant, '--db', db]);
    await weirOk(['learn', plant, '--db', db, '--until', '50%']);
    const det = await weirOk(['detect', plant, '--baseline', db, '--from', '50%', '--jsonl']);
    const lines = det.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; techniques: string[] });
    assert.equal(lines.length, 6);
    assert.deepEqual(lines.find((l) => l.type === 'cpu_stop')!.techniques, ['T0881', 'T0858']);
    assert.deepEqual(lines.find((l) => l.type === 'port_scan')!.techniques, ['T0846']);

    const list = (await weirOk(['incidents', 'list', '--db', db, '--json'])).stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as IncidentSummary);
    assert.equal(list.length, 2);
    const intruder = list.find((i) => i.detectionIds.length === 5)!;
    assert.deepEqual(intruder.tactics, [
      'initial-access',
      'discovery',
      'lateral-movement',
      'impair-process-control',
    ]);
    assert.equal(intruder.severity, 'critical');
    // Names come from the inventory; the PLC is named by what it disclosed.
    assert.deepEqual(intruder.assets, ['10.77.0.66', 'Weir Lab Automation WL-M340']);
    const text = (await weirOk(['incidents', 'list', '--db', db])).stdout;
    assert.match(text, /2 incidents/);
    const show = (await weirOk(['incidents', 'show', intruder.id, '--db', db])).stdout;
    assert.match(show, /timeline:/);
    assert.match(show, /port_scan 10\.77\.0\.66 → 10\.77\.0\.21 \[T0846\]/);
    assert.match(show, /evidence: frames \d+/);
    assert.match(show, /The MITRE Corporation/);

    // A second detect run over the same traffic updates, it does not duplicate; with a policy, zones are named.
    const policy = path.join(dir, 'policy.yaml');
    writeFileSync(policy, policyText('monitor'));
    await weirOk(['detect', plant, '--baseline', db, '--from', '50%', '--policy', policy]);
    const again = (await weirOk(['incidents', 'list', '--db', db, '--json'])).stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as IncidentSummary);
    assert.equal(again.length, 2);
    assert.deepEqual(again.find((i) => i.id === intruder.id)!.zones, ['control']);

    // Acting needs a proven person with an analyst's role.
    const refused = await weir(['incidents', 'ack', intruder.id, '--db', db]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /logged-in person/);
    const root = await person(db, dir, 'root', ['admin']);
    const ana = await person(db, dir, 'ana', ['analyst'], { admin: root });
    const viewer = await person(db, dir, 'vic', ['viewer'], { admin: root });
    const nope = await weir(['incidents', 'ack', intruder.id, '--db', db, '--token-file', viewer]);
    assert.notEqual(nope.code, 0);
    assert.match(nope.stderr, /may not act on incidents/);
    await weirOk([
      'incidents',
      'ack',
      intruder.id,
      '--db',
      db,
      '--token-file',
      ana,
      '--note',
      'on it',
    ]);
    await weirOk([
      'incidents',
      'note',
      intruder.id,
      'source',
      'is',
      'a',
      'contractor',
      'laptop',
      '--db',
      db,
      '--token-file',
      ana,
    ]);
    await weirOk(['incidents', 'contain', intruder.id, '--db', db, '--token-file', ana]);
    const back = await weir(['incidents', 'ack', intruder.id, '--db', db, '--token-file', ana]);
    assert.notEqual(back.code, 0);
    assert.match(back.stderr, /already contained/);
    await weirOk(['incidents', 'rebuild', '--db', db, '--token-file', ana]);
    const full = JSON.parse(
      (await weirOk(['incidents', 'show', intruder.id, '--db', db, '--json'])).stdout,
    ) as {
      status: string;
      statusBy: string;
      notes: Array<{ by: string; text: string }>;
      timeline: unknown[];
    };
    assert.equal(full.status, 'contained');
    assert.equal(full.statusBy, 'ana');
    assert.deepEqual(
      full.notes.map((n) => n.text),
      ['on it', 'source is a contractor laptop'],
    );
    assert.equal(full.timeline.length, 5);
    await weirOk(['incidents', 'close', intruder.id, '--db', db, '--token-file', ana]);
    const closed = (await weirOk(['incidents', 'list', '--db', db, '--status', 'closed', '--json']))
      .stdout;
    assert.equal(JSON.parse(closed).id, intruder.id);

    const s = openStore(db);
    try {
      const audit = listAudit(s).filter((e) => e.action.startsWith('incident'));
      assert.deepEqual(
        audit.map((e) => `${e.actor} ${e.action} ${e.subject === intruder.id ? 'ID' : e.subject}`),
        [
          'ana incident.acknowledged ID',
          'ana incident.note ID',
          'ana incident.contained ID',
          'ana incidents.rebuilt incidents',
          'ana incident.closed ID',
        ],
      );
    } finally {
      s.close();
    }
  },
);
