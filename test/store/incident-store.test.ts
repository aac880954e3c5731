// Incidents in the store: filed incrementally they equal a rebuild; an exporter pages through what changed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openStore } from '../../src/store/db.js';
import { saveDetections } from '../../src/store/baseline-store.js';
import { allIncidents, incidentsUpdatedSince } from '../../src/store/incident-store.js';
import { fileDetections, rebuildIncidents } from '../../src/respond/incident-book.js';
import type { Detection } from '../../src/detect/detection.js';
import { techniquesFor } from '../../src/detect/attack-map.js';

function det(n: number, type: Detection['type'], src: string, dst: string, ts: number): Detection {
  const d: Detection = {
    id: `det-${n}`,
    type,
    severity: 'high',
    ts,
    lastTs: ts,
    count: 1,
    src,
    dst,
    protocol: 'modbus',
    detail: 'modbus:16',
    zone: null,
    evidence: { frames: [n], fields: { space: 'holding_register' } },
    explanation: '',
    suggestedResponse: '',
    techniques: [],
  };
  d.techniques = techniquesFor(d);
  return d;
}

test('filed one at a time, as a server does, incidents equal a rebuild; updatedAt pages what changed', () => {
  const db = openStore(':memory:');
  const lookups = { assetOf: () => null, zoneOf: () => null };
  let clock = 0;
  const now = () => new Date(Date.UTC(2026, 0, 1, 0, 0, clock++)).toISOString();
  const ds = [
    det(1, 'port_scan', '10.0.0.66', '10.0.0.21', 100),
    det(2, 'write_new_range', '10.0.0.66', '10.0.0.21', 110),
    det(3, 'write_new_range', '10.0.0.70', '10.0.0.21', 120),
    det(4, 'new_edge', '10.0.0.99', '10.0.0.50', 130),
    det(5, 'write_new_range', '10.0.0.66', '10.0.0.21', 9000),
  ];
  for (const d of ds) {
    saveDetections(db, [d], 1);
    fileDetections(db, [d], { lookups, now });
  }
  const shape = (xs: ReturnType<typeof allIncidents>) =>
    xs.map((i) => `${i.id} ${[...i.detectionIds].sort().join(',')}`).sort();
  const filed = shape(allIncidents(db));
  assert.equal(filed.length, 3, filed.join('\n'));
  rebuildIncidents(db, { lookups, now });
  assert.deepEqual(shape(allIncidents(db)), filed);

  // The detection seen again (a higher count) updates its step; nothing new is opened.
  saveDetections(db, [{ ...ds[1]!, count: 7, lastTs: 115 }], 1);
  fileDetections(db, [{ ...ds[1]!, count: 7, lastTs: 115 }], { lookups, now });
  assert.equal(allIncidents(db).length, 3);
  const changed = incidentsUpdatedSince(db, '2026-01-01T00:00:09.000Z');
  assert.equal(changed.length, 1);
  assert.equal(changed[0]!.timeline.find((s) => s.detectionId === 'det-2')!.count, 7);
  // Paging: everything, two at a time, in change order, each once.
  const seen: string[] = [];
  let since = '',
    after = '';
  for (;;) {
    const page = incidentsUpdatedSince(db, since, 2, after);
    if (page.length === 0) break;
    seen.push(...page.map((i) => i.id));
    since = page.at(-1)!.updatedAt;
    after = page.at(-1)!.id;
  }
  assert.deepEqual(
    [...seen].sort(),
    allIncidents(db)
      .map((i) => i.id)
      .sort(),
  );
  db.close();
});
