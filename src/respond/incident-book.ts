import type { Db } from '../store/db.js';
import type { Detection } from '../detect/detection.js';
import type { Asset } from '../discover/model.js';
import { getAsset } from '../store/read-store.js';
import {
  allIncidents,
  clearIncidents,
  getIncident,
  incidentsInPlay,
  saveIncidents,
} from '../store/incident-store.js';
import { appendAudit } from '../store/audit-store.js';
import { CompiledPolicy } from '../policy/evaluate.js';
import { activePolicy, ChangeRefused } from './change-control.js';
import { NotFound } from './detection-actions.js';
import { IncidentCorrelator, type CorrelateOptions } from './incidents.js';
import type { AssetFacts, IncidentLookups } from './incident-facts.js';
import { INCIDENT_STATUSES, type Incident, type IncidentStatus } from '../detect/incident.js';

/** A person-readable name for an inventory asset: its hostname, else what it says it is. */
export function assetName(a: Asset): string | null {
  if (a.hostnames[0]) return a.hostnames[0];
  const id = a.identity;
  const what = [id.vendor, id.model ?? id.product].filter(Boolean).join(' ');
  return what || null;
}

/** Names from the store's inventory, zones from the active policy (or the one given). */
export function storeLookups(db: Db, policy?: CompiledPolicy | null): IncidentLookups {
  const cp = policy !== undefined ? policy : zonesOfActive(db);
  const cache = new Map<string, AssetFacts | null>();
  return {
    assetOf(address) {
      if (!cache.has(address)) {
        const a = getAsset(db, address);
        cache.set(address, a === null ? null : { name: assetName(a), role: a.role });
      }
      return cache.get(address)!;
    },
    zoneOf: (address) => cp?.zoneOf(address)?.name ?? null,
  };
}

function zonesOfActive(db: Db): CompiledPolicy | null {
  const a = activePolicy(db);
  return a ? new CompiledPolicy(a.policy) : null;
}

export type BookOptions = Omit<CorrelateOptions, keyof IncidentLookups> & {
  lookups?: IncidentLookups;
};

/**
 * File detections into the store's incidents as they arrive: the incidents they may join are loaded, the
 * correlator folds the detections in, what changed is written back. Returns the incidents touched.
 */
export function fileDetections(db: Db, ds: readonly Detection[], o: BookOptions = {}): Incident[] {
  if (ds.length === 0) return [];
  const window = o.windowSeconds ?? 3600;
  const since = ds.reduce((m, d) => Math.min(m, d.ts), Infinity) - window;
  const lookups = o.lookups ?? storeLookups(db);
  // Read, fold and write under the write lock: a `weir detect` and a `weir serve` filing into one store at
  // once must not each extend an incident from the same old copy.
  const changed = db
    .transaction(() => {
      const existing = incidentsInPlay(
        db,
        since,
        ds.map((d) => d.id),
      );
      const c = new IncidentCorrelator({ ...o, ...lookups }, existing);
      c.addAll(ds);
      const { changed, removed } = c.takeChanges();
      saveIncidents(db, changed, removed);
      return changed;
    })
    .immediate();
  return changed;
}

/**
 * Regroup every stored detection from scratch (after a change of the rules or the policy). What analysts
 * decided survives: an old incident's status and notes go to the incident that now holds its first detection.
 */
export function rebuildIncidents(
  db: Db,
  o: BookOptions = {},
): { incidents: number; detections: number } {
  const lookups = o.lookups ?? storeLookups(db);
  return db.transaction(() => regroup(db, o, lookups)).immediate();
}

function regroup(
  db: Db,
  o: BookOptions,
  lookups: IncidentLookups,
): { incidents: number; detections: number } {
  const ds = (db.prepare('SELECT doc FROM detections').all() as Array<{ doc: string }>).map(
    (r) => JSON.parse(r.doc) as Detection,
  );
  const before = allIncidents(db);
  const c = new IncidentCorrelator({ ...o, ...lookups });
  c.addAll(ds);
  for (const old of before) {
    const first = old.detectionIds[0];
    const now = first === undefined ? undefined : c.incidentOf(first);
    if (now === undefined) continue;
    if (now.statusBy === null && old.statusBy !== null) {
      now.status = old.status;
      now.statusBy = old.statusBy;
      now.statusAt = old.statusAt;
    }
    for (const n of old.notes)
      if (!now.notes.some((m) => m.at === n.at && m.by === n.by && m.text === n.text))
        now.notes.push(n);
    now.notes.sort((a, b) => (a.at < b.at ? -1 : 1));
  }
  const all = c.all();
  clearIncidents(db);
  saveIncidents(db, all, []);
  return { incidents: all.length, detections: ds.length };
}

function incident(db: Db, id: string): Incident {
  const i = getIncident(db, id);
  if (i === null) throw new NotFound(`no incident ${id}`);
  return i;
}

/**
 * Set an incident's status (an analyst's decision, audited). Status only moves forward — a contained
 * incident is not "acknowledged" again — and a closed one stays closed: new activity opens a new incident.
 */
export function setIncidentStatus(
  db: Db,
  id: string,
  status: Exclude<IncidentStatus, 'open'>,
  actor: string,
  note = '',
): Incident {
  // Read and write under the write lock, so a detection filed meanwhile is not lost (nor the status).
  const { i, from } = db
    .transaction(() => {
      const i = incident(db, id);
      const from = INCIDENT_STATUSES.indexOf(i.status),
        to = INCIDENT_STATUSES.indexOf(status);
      if (to <= from)
        throw new ChangeRefused(
          `incident ${id} is already ${i.status}: status moves open → acknowledged → contained → closed`,
        );
      const at = new Date().toISOString();
      i.status = status;
      i.statusBy = actor;
      i.statusAt = at;
      i.newSinceStatus = 0;
      i.updatedAt = at;
      if (note !== '') i.notes.push({ at, by: actor, text: note });
      saveIncidents(db, [i], []);
      return { i, from };
    })
    .immediate();
  appendAudit(db, {
    actor,
    action: `incident.${status}`,
    subject: id,
    details: { from: INCIDENT_STATUSES[from], note, title: i.title },
  });
  return i;
}

/** An analyst's note on an incident (audited). */
export function addIncidentNote(db: Db, id: string, actor: string, text: string): Incident {
  const t = text.trim();
  if (t === '') throw new ChangeRefused('a note needs text');
  if (t.length > 4000) throw new ChangeRefused('a note is at most 4000 characters');
  const i = db
    .transaction(() => {
      const i = incident(db, id);
      const at = new Date().toISOString();
      i.notes.push({ at, by: actor, text: t });
      i.updatedAt = at;
      saveIncidents(db, [i], []);
      return i;
    })
    .immediate();
  appendAudit(db, { actor, action: 'incident.note', subject: id, details: { text: t } });
  return i;
}
