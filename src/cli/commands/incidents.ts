import type { Command } from 'commander';
import { getIncident, queryIncidents } from '../../store/incident-store.js';
import { CAN } from '../../respond/roles.js';
import { appendAudit } from '../../store/audit-store.js';
import {
  addIncidentNote,
  rebuildIncidents,
  setIncidentStatus,
} from '../../respond/incident-book.js';
import { incidentSummary, isIncidentStatus, type Incident } from '../../detect/incident.js';
import { tacticName, techniqueName } from '../../detect/attack-map.js';
import { ATTACK_NOTICE } from '../../detect/attack-ics.js';
import { renderColumns } from '../columns.js';
import {
  asCaller,
  openExistingStore,
  STORE_HINT,
  withIdentity,
  type IdentityOpts,
} from '../identity.js';

const when = (ts: number): string =>
  new Date(ts * 1000).toISOString().replace('T', ' ').slice(0, 19);

function showIncident(i: Incident): string {
  const lines = [
    `${i.id}  ${i.severity.toUpperCase()}  ${i.status}${i.statusBy ? ` (${i.statusBy}, ${i.statusAt})` : ''}`,
    i.title,
    `seen ${when(i.firstSeen)} – ${when(i.lastSeen)}, ${i.detectionIds.length} detections${i.newSinceStatus ? `, ${i.newSinceStatus} since the status was set` : ''}`,
    `zones: ${i.zones.join(', ') || '(no policy zone)'}`,
    `assets: ${i.assets.map((a) => `${a.part} ${a.name ? `${a.name} (${a.address})` : a.address}${a.role ? ` [${a.role}]` : ''}`).join('; ')}`,
    `tactics: ${i.tactics.map(tacticName).join(' → ')}`,
    `techniques: ${i.techniques.map((t) => `${t} ${techniqueName(t)}`).join(', ')}`,
    '',
    'timeline:',
  ];
  for (const s of i.timeline) {
    lines.push(
      `  ${when(s.ts)} ${s.severity.padEnd(8)} ${s.type} ${s.src} → ${s.dst}${s.count > 1 ? ` ×${s.count}` : ''} [${s.techniques.join(', ')}] (${s.detectionId})`,
      `      ${s.explanation}`,
      `      evidence: frames ${s.evidence.frames.join(', ')}`,
    );
  }
  if (i.timeline.length < i.detectionIds.length)
    lines.push(`  … ${i.detectionIds.length - i.timeline.length} more detections`);
  if (i.notes.length > 0) {
    lines.push('', 'notes:');
    for (const n of i.notes) lines.push(`  ${n.at} ${n.by}: ${n.text}`);
  }
  lines.push('', ATTACK_NOTICE);
  return lines.join('\n');
}

export function registerIncidents(program: Command): void {
  const cmd = program
    .command('incidents')
    .description('detections correlated into incidents (ATT&CK for ICS tactics, assets, status)');
  cmd
    .command('list')
    .requiredOption('--db <path>', 'store holding the incidents')
    .option('--status <status>', 'open, acknowledged, contained or closed')
    .option('--limit <n>', 'at most this many, newest activity first', '100')
    .option('--json', 'one JSON object per incident (the stable summary shape)')
    .description('list incidents, newest activity first')
    .action((opts: { db: string; status?: string; limit: string; json?: boolean }) => {
      if (opts.status !== undefined && !isIncidentStatus(opts.status))
        throw new Error(
          `--status: '${opts.status}' is not open, acknowledged, contained or closed`,
        );
      const db = openExistingStore(opts.db, STORE_HINT);
      try {
        const page = queryIncidents(db, {
          status: opts.status,
          limit: Math.max(1, Number(opts.limit) || 100),
          offset: 0,
        });
        if (opts.json) {
          for (const i of page.items)
            process.stdout.write(`${JSON.stringify(incidentSummary(i))}\n`);
          return;
        }
        if (page.items.length === 0) {
          process.stdout.write('no incidents\n');
          return;
        }
        const rows = page.items.map((i) => [
          i.id,
          i.severity,
          i.status,
          when(i.lastSeen),
          String(i.detectionIds.length),
          i.techniques.join(' '),
          i.title,
        ]);
        process.stdout.write(
          `${renderColumns(['id', 'severity', 'status', 'last seen', 'detections', 'techniques', 'title'], rows)}\n${page.total} incidents\n`,
        );
      } finally {
        db.close();
      }
    });
  cmd
    .command('show')
    .argument('<id>')
    .requiredOption('--db <path>', 'store holding the incidents')
    .option('--json', 'the whole incident (timeline with evidence, notes) as JSON')
    .description(
      'an incident: its timeline of detections with their evidence, assets, tactics, notes',
    )
    .action((id: string, opts: { db: string; json?: boolean }) => {
      const db = openExistingStore(opts.db, STORE_HINT);
      try {
        const i = getIncident(db, id);
        if (i === null) throw new Error(`no incident ${id} in ${opts.db}`);
        process.stdout.write(`${opts.json ? JSON.stringify(i, null, 1) : showIncident(i)}\n`);
      } finally {
        db.close();
      }
    });
  for (const [name, status, verb] of [
    ['ack', 'acknowledged', 'acknowledge'],
    ['contain', 'contained', 'mark as contained'],
    ['close', 'closed', 'close'],
  ] as const) {
    withIdentity(cmd.command(name))
      .argument('<id>')
      .requiredOption('--db <path>', 'store holding the incident')
      .option('--note <text>', 'why (kept with the incident and audited)', '')
      .option('--json', 'print the incident summary as JSON')
      .description(`${verb} an incident (audited, by a logged-in person)`)
      .action((id: string, opts: IdentityOpts & { db: string; note: string; json?: boolean }) =>
        asCaller(opts.db, opts, CAN.actOnDetections, 'act on incidents', (db, who) => {
          const i = setIncidentStatus(db, id, status, who.name, opts.note);
          process.stdout.write(
            opts.json
              ? `${JSON.stringify(incidentSummary(i))}\n`
              : `${i.id} ${i.status} by ${who.name}: ${i.title}\n`,
          );
        }),
      );
  }
  withIdentity(cmd.command('note'))
    .argument('<id>')
    .argument('<text...>')
    .requiredOption('--db <path>', 'store holding the incident')
    .option('--json', 'print the incident summary as JSON')
    .description("add an analyst's note to an incident (audited)")
    .action((id: string, text: string[], opts: IdentityOpts & { db: string; json?: boolean }) =>
      asCaller(opts.db, opts, CAN.actOnDetections, 'act on incidents', (db, who) => {
        const i = addIncidentNote(db, id, who.name, text.join(' '));
        process.stdout.write(
          opts.json
            ? `${JSON.stringify(incidentSummary(i))}\n`
            : `${i.id}: note added by ${who.name} (${i.notes.length} notes)\n`,
        );
      }),
    );
  withIdentity(cmd.command('rebuild'))
    .requiredOption('--db <path>', 'store holding the detections')
    .description(
      'regroup every stored detection into incidents from scratch; statuses and notes are kept (audited)',
    )
    .action((opts: IdentityOpts & { db: string }) =>
      asCaller(opts.db, opts, CAN.actOnDetections, 'act on incidents', (db, who) => {
        const r = rebuildIncidents(db);
        appendAudit(db, {
          actor: who.name,
          action: 'incidents.rebuilt',
          subject: 'incidents',
          details: r,
        });
        process.stdout.write(`${r.detections} detections → ${r.incidents} incidents\n`);
      }),
    );
}
