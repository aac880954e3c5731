// Noise reduction by incidents: raw detector hits → detections (folded repeats) → incidents, on the plant
// fixture and every public capture (learn on the first half of each, detect on the rest).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { learnThenDetect } from './detect.js';
import { capturesUnder } from '../test/helpers/paths.js';
import { IncidentCorrelator } from '../src/respond/incidents.js';
import { machine, root, sharedPcaps, today, writeSection } from './results.js';

export interface NoiseRow {
  capture: string;
  hits: number;
  detections: number;
  incidents: number;
}

const captures = (): string[] => capturesUnder(sharedPcaps);

export function noiseRow(file: string): NoiseRow {
  const { detections } = learnThenDetect(file, 0.5);
  const c = new IncidentCorrelator({ assetOf: () => null, zoneOf: () => null });
  c.addAll(detections);
  return {
    capture: path.relative(sharedPcaps, file).startsWith('..')
      ? path.relative(root, file)
      : path.relative(sharedPcaps, file),
    hits: detections.reduce((n, d) => n + d.count, 0),
    detections: detections.length,
    incidents: c.all().length,
  };
}

const pct = (from: number, to: number) => {
  if (from === 0) return '–';
  const p = 100 * (1 - to / from);
  return `${p > 99 && p < 100 ? p.toFixed(1) : p.toFixed(0)}%`;
};

export function recordIncidents(): NoiseRow[] {
  const rows = [path.join(root, 'fixtures/plant.pcap'), ...captures()].map(noiseRow);
  const busy = rows.filter((r) => r.detections > 0);
  const quiet = rows.filter((r) => r.detections === 0);
  const sum = (k: keyof Omit<NoiseRow, 'capture'>) => busy.reduce((n, r) => n + r[k], 0);
  const total = { hits: sum('hits'), detections: sum('detections'), incidents: sum('incidents') };
  const body = `## incidents: noise reduction (${today()})

Machine: ${machine()} (shared with other work while measured; counts, not times, so the load does not matter).

Each capture is split at the middle of its time span: the first half is learned as the baseline, the second half runs through every detector; detections are then correlated into incidents (same source, a target under attack, or the reply direction of a conversation already in one; within an hour). Raw hits are the findings the detectors reported before repeats were folded (the sum of the detections' counts). ${quiet.length} of the ${rows.length} captures give no detection at all and are left out of the table.

| capture | raw hits | detections | incidents | hits → incidents | detections → incidents |
| --- | ---: | ---: | ---: | ---: | ---: |
${busy.map((r) => `| ${r.capture} | ${r.hits} | ${r.detections} | ${r.incidents} | ${pct(r.hits, r.incidents)} | ${pct(r.detections, r.incidents)} |`).join('\n')}
| **all** | **${total.hits}** | **${total.detections}** | **${total.incidents}** | **${pct(total.hits, total.incidents)}** | **${pct(total.detections, total.incidents)}** |

The plant fixture's intruder (new asset, port scan, new edge, two unauthorised writes) is one incident whose tactics run Initial Access → Discovery → Lateral Movement → Impair Process Control; the engineering station's PLC stop is the other. Public captures are short test traces of one conversation each, so most of them reduce to one incident.
`;
  writeSection('incidents: noise reduction', body);
  return rows;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const r of recordIncidents()) if (r.detections > 0) console.log(r);
}
