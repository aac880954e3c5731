/** The dashboard's only door to Weir: JSON over the same-origin API, with the session cookie. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function api<T>(
  path: string,
  init: { method?: string; body?: unknown } = {},
): Promise<T> {
  const r = await fetch(`/api${path}`, {
    method: init.method ?? 'GET',
    credentials: 'same-origin',
    headers: init.body !== undefined ? { 'content-type': 'application/json' } : {},
    body: init.body !== undefined ? JSON.stringify(init.body) : undefined,
  });
  const data = (await r.json().catch(() => ({}))) as { error?: string };
  if (!r.ok) {
    if (r.status === 401 && path !== '/session') window.dispatchEvent(new Event('weir:logged-out'));
    throw new ApiError(r.status, data.error ?? `HTTP ${r.status}`);
  }
  return data as T;
}

export interface Me {
  name: string;
  roles: string[];
}
export interface Asset {
  id: string;
  ips: string[];
  mac: string | null;
  macVendor: string | null;
  hostnames: string[];
  role: string;
  zone: string | null;
  identity: Record<string, string | undefined>;
  serves: string[];
  uses: string[];
  firstSeen: number;
  lastSeen: number;
  packetsSent: number;
  roleReasons: string[];
}
export interface Edge {
  id: string;
  client: string;
  server: string;
  protocol: string;
  transport: string;
  port: number;
  packets: number;
  functions?: Array<{ name: string; func: number; count: number }>;
}
export interface Detection {
  id: string;
  type: string;
  severity: string;
  ts: number;
  lastTs: number;
  count: number;
  src: string;
  dst: string;
  protocol: string;
  zone: string | null;
  explanation: string;
  suggestedResponse: string;
  status: string;
  evidence: { frames: number[]; fields: Record<string, unknown> };
  /** ATT&CK for ICS technique ids. */
  techniques?: string[];
  /** The incident this detection was filed into. */
  incidentId?: string | null;
}
/** One detection on an incident's timeline: the detection's own fields, with its techniques and tactics. */
export interface IncidentStep
  extends Pick<
    Detection,
    | 'type'
    | 'severity'
    | 'ts'
    | 'lastTs'
    | 'count'
    | 'src'
    | 'dst'
    | 'protocol'
    | 'explanation'
    | 'evidence'
  > {
  detectionId: string;
  techniques: string[];
  tactics: string[];
}
export interface Incident {
  id: string;
  title: string;
  severity: string;
  status: string;
  statusBy: string | null;
  statusAt: string | null;
  tactics: string[];
  techniques: string[];
  tacticNames: Record<string, string>;
  techniqueNames: Record<string, string>;
  assets: Array<{
    address: string;
    name: string | null;
    role: string | null;
    zone: string | null;
    part: string;
  }>;
  zones: string[];
  firstSeen: number;
  lastSeen: number;
  detectionIds: string[];
  notes: Array<{ at: string; by: string; text: string }>;
  newSinceStatus: number;
  timeline?: IncidentStep[];
}
export interface Page<T> {
  total: number;
  items: T[];
}

export const when = (ts: number): string =>
  new Date(ts * 1000).toISOString().replace('T', ' ').slice(0, 19);
export const can = (me: Me, roles: string[]): boolean => me.roles.some((r) => roles.includes(r));
/** The site filter's query parameter ('' : this server's own data; '*': all sites). */
export const siteParam = (site: string): string =>
  site ? `&site=${encodeURIComponent(site)}` : '';
/** How a page names what the site filter chose. */
export const siteLabel = (site: string): string => (site === '*' ? 'all sites' : `site ${site}`);

/** A fleet site as the manager last heard from it (GET /api/sites). */
export interface SiteView {
  name: string;
  health: 'ok' | 'stale' | 'cut off';
  /** Epoch ms. */
  lastSync: number;
  lagSeconds: number;
  backlog: number | null;
  records: number;
  intake: { held: number; throttled: number; atBound: string[] } | null;
  applied: Record<string, number | null>;
  /** Newer versions the site refused or could not put into force, with its reason (src/fleet/site-view.ts). */
  notInForce: Array<{ kind: string; version: number; reason: string }>;
  enforcement: {
    loaded: boolean | null;
    gateway: string | null;
    blocked: number | null;
    zones: Array<{ name: string; mode: string }>;
    error?: string;
  } | null;
  /** The site's live capture (null: not capturing live, or not reported). */
  capture: CaptureView | null;
}
/**
 * A live capture's program and its counters (src/capture/live.ts CaptureStatus); a site's also its state, why it
 * stalled or stopped, when last heard of and whether that is too long ago (src/fleet/site-view.ts SiteCapture).
 * No state: running.
 */
export interface CaptureView {
  program: 'weir-capture' | 'tcpdump';
  counters: {
    captured: number;
    receivedByFilter: number;
    droppedByKernel: number;
    droppedByInterface: number;
  } | null;
  state?: 'running' | 'stalled' | 'stopped';
  reason?: string | null;
  /** Epoch ms. */
  at?: number | null;
  stale?: boolean;
}
export interface FleetView {
  fleet: boolean;
  latest: Record<string, number | null>;
  sites: SiteView[];
}

/** A site's own asset or incident page: ids are per site, so the address names the site. */
export const siteHref = (site: string, what: 'assets' | 'incidents', id: string): string =>
  `#/sites/${encodeURIComponent(site)}/${what}/${encodeURIComponent(id)}`;
