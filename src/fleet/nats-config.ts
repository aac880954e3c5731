/**
 * nats-server configuration files for the hub (the manager's server: JetStream, the leafnode port) and for a
 * site's leaf node. Pure: values in, text out. Strings are written as JSON strings, which the NATS config
 * format reads as quoted strings.
 */
import type { CertFiles } from './pki.js';
import { siteUser } from './pki.js';
import {
  HUB_DOMAIN,
  SITE_KINDS,
  STATE_STREAM,
  siteInbox,
  siteSubject,
  stateConsumer,
} from './subjects.js';

const q = (s: string): string => JSON.stringify(s);
const list = (xs: string[]): string => `[${xs.map(q).join(', ')}]`;

/** Advisory bundles travel in one message (fleet/bundle-doc.ts): 8 MiB, where nats-server's default is 1. */
const MAX_PAYLOAD = 'max_payload: 8388608';

export interface HostPort {
  host: string;
  port: number;
}

export interface HubConfig {
  client: HostPort;
  leaf: HostPort;
  /** The leafnode address sites are told of (nats-server tells them its listen address otherwise). */
  leafAdvertise?: string;
  /** nats-server's monitoring port (connections, leafnodes, JetStream use), on loopback only. */
  monitorPort?: number;
  storeDir: string;
  /** Where the server writes its process id. */
  pidFile?: string;
  tls: CertFiles;
  /** Public NKEY of the manager's own client. */
  managerNkey: string;
  sites: string[];
  /** Each site's current enrolment generation (absent: 0); only that enrolment's certificate maps to the site. */
  generations?: Record<string, number>;
  /** Cluster routes, for a hub of several servers (the bench's 3-server comparison). */
  cluster?: { name: string; listen: HostPort; routes: string[]; serverName: string };
  /**
   * Bench only: let site users in on the client port too (100 simulated sites without 100 leaf servers).
   * Site users carry no password — their proof is the leaf link's client certificate — so a deployment
   * admits them on the leafnode port alone.
   */
  siteClients?: boolean;
}

/**
 * What a site's leaf link may do on the hub: publish its own subject of each kind it sends (not its whole
 * subtree: every made-up subject there would get its own per-subject cap in the site stream); read the manager's state stream through
 * its one consumer (made, read and deleted by that name alone: never another site's, never an unnamed one,
 * never a purge, a delete of messages or a write to the bucket); receive replies under its own inbox prefix
 * only (the manager's inboxes carry every site's records as it pulls them). Anything else it sends is
 * dropped by the hub.
 */
export function sitePermissions(site: string): { publish: string[]; subscribe: string[] } {
  const api = `$JS.${HUB_DOMAIN}.API`;
  const s = STATE_STREAM;
  const c = stateConsumer(site);
  return {
    publish: [
      ...SITE_KINDS.map((k) => siteSubject(site, k)),
      `${api}.INFO`,
      `${api}.STREAM.INFO.${s}`,
      `${api}.CONSUMER.CREATE.${s}.${c}`,
      `${api}.CONSUMER.INFO.${s}.${c}`,
      `${api}.CONSUMER.DELETE.${s}.${c}`,
      `${api}.CONSUMER.MSG.NEXT.${s}.${c}`,
    ],
    subscribe: [`${siteInbox(site)}.>`],
  };
}

/** The hub's users: the manager's NKEY, and each site's certificate subject with its permissions. */
export function hubAuthorization(
  managerNkey: string,
  sites: string[],
  generations: Record<string, number> = {},
  siteClients = false,
): string {
  const users = [
    `    { nkey: ${q(managerNkey)} }`,
    ...sites.map((site) => {
      const p = sitePermissions(site);
      const via = siteClients ? '' : ', allowed_connection_types: ["LEAFNODE"]';
      return `    { user: ${q(siteUser(site, generations[site] ?? 0))}${via}, permissions: { publish: { allow: ${list(p.publish)} }, subscribe: { allow: ${list(p.subscribe)} } } }`;
    }),
  ];
  return `${AUTH_BEGIN}${siteClients ? ' (site users also on the client port: bench only)' : ''}
authorization {
  users: [
${users.join('\n')}
  ]
}
`;
}

/** Where the hub configuration's users start: a live site add or remove rewrites from here to the end. */
const AUTH_BEGIN = '# weir: hub users';

/**
 * `conf` (a hub configuration hubConfig wrote) with its users for `sites` instead: the rest of the file is
 * kept byte for byte, so nats-server's reload changes the users and nothing else.
 */
export function withSites(
  conf: string,
  managerNkey: string,
  sites: string[],
  generations: Record<string, number>,
): string {
  const at = conf.indexOf(AUTH_BEGIN);
  if (at < 0) throw new Error('not a hub configuration weir wrote (no users section)');
  const siteClients = conf.slice(at).split('\n', 1)[0]!.includes('bench only');
  return conf.slice(0, at) + hubAuthorization(managerNkey, sites, generations, siteClients);
}

export function hubConfig(c: HubConfig): string {
  const cluster = c.cluster
    ? `cluster {
  name: ${q(c.cluster.name)}
  listen: ${q(`${c.cluster.listen.host}:${c.cluster.listen.port}`)}
  routes: ${list(c.cluster.routes)}
}
`
    : '';
  return `# Written by weir manager; its users are rewritten (and the server reloaded) when a site is added or removed.
server_name: ${q(c.cluster?.serverName ?? 'weir-hub')}
listen: ${q(`${c.client.host}:${c.client.port}`)}
${MAX_PAYLOAD}
${c.pidFile ? `pid_file: ${q(c.pidFile)}\n` : ''}${c.monitorPort ? `http: ${q(`127.0.0.1:${c.monitorPort}`)}\n` : ''}jetstream {
  store_dir: ${q(c.storeDir)}
  domain: ${q(HUB_DOMAIN)}
}
${cluster}leafnodes {
  listen: ${q(`${c.leaf.host}:${c.leaf.port}`)}
  # Sites dial the address they were given (through NAT, a firewall, a relay) and learn only this one besides.
  no_advertise: true
${c.leafAdvertise ? `  advertise: ${q(c.leafAdvertise)}\n` : ''}  tls {
    cert_file: ${q(c.tls.cert)}
    key_file: ${q(c.tls.key)}
    ca_file: ${q(c.tls.ca)}
    verify_and_map: true
  }
}
${hubAuthorization(c.managerNkey, c.sites, c.generations, c.siteClients === true)}`;
}

export interface LeafConfig {
  site: string;
  /** Where the site's own processes connect: loopback of the site host. */
  client: HostPort;
  hubUrls: string[];
  tls: CertFiles;
  pidFile?: string;
}

export function leafConfig(c: LeafConfig): string {
  return `# Written by weir node for site ${c.site}: local publish/subscribe keeps working while the hub is away.
server_name: ${q(`weir-site-${c.site}`)}
listen: ${q(`${c.client.host}:${c.client.port}`)}
${MAX_PAYLOAD}
${c.pidFile ? `pid_file: ${q(c.pidFile)}\n` : ''}leafnodes {
  reconnect: 1
  remotes: [
    {
      urls: ${list(c.hubUrls)}
      tls {
        cert_file: ${q(c.tls.cert)}
        key_file: ${q(c.tls.key)}
        ca_file: ${q(c.tls.ca)}
      }
    }
  ]
}
`;
}
