/**
 * The fleet's names on NATS, in one place: what a site publishes (its own subtree only, enforced by the hub's
 * permissions), the stream that keeps it for the manager, and the bucket the manager's signed state lives in.
 */

/** JetStream domain of the manager's hub: sites reach its JetStream API as $JS.<domain>.API through their leaf. */
export const HUB_DOMAIN = 'weir-hub';
/** Site → manager: detections, audit, block requests, health — store-and-forward with exactly-once. */
export const SITE_STREAM = 'WEIR_SITES';
/** Manager → sites: signed policy, blocklist, permits and advisory bundle documents, with history. */
export const STATE_BUCKET = 'WEIR_STATE';
/** The KV bucket's own stream name (how JetStream names a bucket's stream). */
export const STATE_STREAM = `KV_${STATE_BUCKET}`;
/**
 * The one consumer name a site may read the state stream through (the hub's permissions name it): a site can
 * create, read and delete only this one, never another site's, so no site can disturb another's view of state.
 */
export const stateConsumer = (site: string): string => `weir-site-${site}`;
/**
 * The inbox prefix of a site's connections: replies to it (JetStream acks, API answers, pulled state) come
 * back under it, and a site may subscribe only to its own, never to the manager's or another site's inboxes.
 */
export const siteInbox = (site: string): string => `_INBOX.site-${site}`;
/** The manager's durable consumer of the site stream. */
export const INGEST_CONSUMER = 'weir-manager-ingest';

/**
 * Kinds of record a site sends to the manager. 'audit' carries fleet events; 'auditlog' the site's own audit
 * chain, verbatim; 'inventory' and 'incident' versioned copies of its assets, edges and incidents; 'policy',
 * 'proposal' and 'playbook' versioned copies of its active policy (zones and their ladder modes), its change
 * proposals with their approvals, and what its playbooks did.
 */
export const SITE_KINDS = [
  'detection',
  'audit',
  'block',
  'health',
  'inventory',
  'incident',
  'auditlog',
  'policy',
  'proposal',
  'playbook',
] as const;
export type SiteKind = (typeof SITE_KINDS)[number];

/** Site names end up in subjects, file names and certificate subjects: keep them plain. */
export function checkSiteName(name: string): string {
  if (!/^[a-z0-9][a-z0-9-]{0,31}$/.test(name))
    throw new Error(
      `site name "${name}": use 1-32 lower-case letters, digits or dashes, starting with a letter or digit`,
    );
  return name;
}

export const siteSubject = (site: string, kind: SiteKind): string => `weir.site.${site}.${kind}`;
/** Everything one site may publish. */
export const siteSubtree = (site: string): string => `weir.site.${site}.>`;
export const ALL_SITES = 'weir.site.>';

/** The site and kind of a subject on the site stream (null: not one of ours). */
export function parseSiteSubject(subject: string): { site: string; kind: SiteKind } | null {
  const m = /^weir\.site\.([a-z0-9-]+)\.([a-z]+)$/.exec(subject);
  if (m === null || !(SITE_KINDS as readonly string[]).includes(m[2]!)) return null;
  return { site: m[1]!, kind: m[2] as SiteKind };
}

/** Keys of the state bucket: one per kind of document. */
export const STATE_KINDS = ['policy', 'blocklist', 'permits', 'bundle'] as const;
export type StateKind = (typeof STATE_KINDS)[number];
