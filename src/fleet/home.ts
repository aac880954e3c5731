/**
 * The manager's folder: its CA and certificates, its NKEY (the manager's own NATS client), its Ed25519
 * signing key for state documents, the list of sites, the hub's configuration and JetStream store, and
 * manager.db. `addSite` makes what a site needs, in a folder of its own to carry to the site.
 */
import { generateKeyPairSync } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { nkeys } from 'nats';
import { hubCert, siteCert, type CertFiles } from './pki.js';
import { checkSiteName } from './subjects.js';

export interface ManagerHome {
  dir: string;
  pki: string;
  nkeySeed: string;
  nkeyPublic: string;
  signingKeyPem: string;
  publicKeyPem: string;
  sites: string[];
  /**
   * Per site name ever enrolled (removed ones too): its current enrolment's generation, the one the hub maps.
   * A name absent here is generation 0 (a site enrolled before generations were kept).
   */
  generations: Record<string, number>;
}

const read = (f: string): string => readFileSync(f, 'utf8');

/** Create (first time) or open the manager's folder. `hosts`: names/addresses sites dial the hub by. */
export function openHome(dir: string, hosts: string[] = ['127.0.0.1', 'localhost']): ManagerHome {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const pki = path.join(dir, 'pki');
  const seedFile = path.join(dir, 'manager.nk');
  if (!existsSync(seedFile)) {
    const kp = nkeys.createUser();
    writeFileSync(seedFile, `${new TextDecoder().decode(kp.getSeed())}\n`, { mode: 0o600 });
  }
  const signFile = path.join(dir, 'signing.pem');
  const pubFile = path.join(dir, 'signing.pub.pem');
  if (!existsSync(signFile)) {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    writeFileSync(signFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    writeFileSync(pubFile, publicKey.export({ type: 'spki', format: 'pem' }));
  }
  hubCert(pki, hosts);
  const sitesFile = path.join(dir, 'sites.json');
  const sites = existsSync(sitesFile) ? (JSON.parse(read(sitesFile)) as string[]) : [];
  const seed = read(seedFile).trim();
  const genFile = path.join(dir, 'enrolments.json');
  const generations = existsSync(genFile)
    ? (JSON.parse(read(genFile)) as Record<string, number>)
    : {};
  return {
    dir,
    pki,
    nkeySeed: seed,
    nkeyPublic: nkeys.fromSeed(new TextEncoder().encode(seed)).getPublicKey(),
    signingKeyPem: read(signFile),
    publicKeyPem: read(pubFile),
    sites,
    generations,
  };
}

/** The generation of a site's current enrolment. */
export const generationOf = (h: ManagerHome, site: string): number => h.generations[site] ?? 0;

export const hubTls = (h: ManagerHome): CertFiles => ({
  cert: path.join(h.pki, 'hub.pem'),
  key: path.join(h.pki, 'hub.key'),
  ca: path.join(h.pki, 'ca.pem'),
});

/** What a site carries from the manager: its certificate and key, the CA, the manager's public signing key. */
export interface SiteKit {
  site: string;
  dir: string;
  tls: CertFiles;
  managerKeyPem: string;
}

/**
 * Register a site and write its kit to <dir>/sites/<site>/ (the hub's config must be rewritten to admit it).
 * A name not enrolled now gets the next generation — a new certificate whose subject no earlier enrolment's
 * has — recorded before it is issued, so a generation is never handed out twice; adding an enrolled site
 * again writes its current kit.
 */
export function addSite(h: ManagerHome, site: string): SiteKit & { generation: number } {
  checkSiteName(site);
  if (!h.sites.includes(site)) nextGeneration(h, site);
  const kit = writeKit(h, site, generationOf(h, site));
  if (!h.sites.includes(site)) {
    h.sites.push(site);
    h.sites.sort();
    writeFileSync(path.join(h.dir, 'sites.json'), `${JSON.stringify(h.sites)}\n`);
  }
  return kit;
}

/**
 * A new key for an enrolled site whose key is stolen or suspected: the next generation (recorded before its
 * certificate is issued, as addSite does) and its kit written over the site's kit folder. The site keeps its
 * name, and so everything the fleet keeps by name: its subjects and state consumer, its records at the
 * manager, its health. The hub must be rewritten to map only the new generation (hub-reload.ts rekeySite).
 */
export function newSiteKey(h: ManagerHome, site: string): SiteKit & { generation: number } {
  checkSiteName(site);
  if (!h.sites.includes(site)) throw new Error(`no site named '${site}'`);
  nextGeneration(h, site);
  return writeKit(h, site, generationOf(h, site));
}

function nextGeneration(h: ManagerHome, site: string): void {
  h.generations[site] = generationOf(h, site) + 1;
  writeFileSync(path.join(h.dir, 'enrolments.json'), `${JSON.stringify(h.generations)}\n`);
}

/** Issue (or reuse) one enrolment's certificate and copy it with the CA and the signing key into the kit. */
function writeKit(
  h: ManagerHome,
  site: string,
  generation: number,
): SiteKit & { generation: number } {
  const certs = siteCert(h.pki, site, generation);
  const kitDir = path.join(h.dir, 'sites', site);
  mkdirSync(kitDir, { recursive: true, mode: 0o700 });
  const tls = {
    cert: path.join(kitDir, 'site.pem'),
    key: path.join(kitDir, 'site.key'),
    ca: path.join(kitDir, 'ca.pem'),
  };
  copyFileSync(certs.cert, tls.cert);
  copyFileSync(certs.key, tls.key);
  copyFileSync(certs.ca, tls.ca);
  writeFileSync(path.join(kitDir, 'manager.pub.pem'), h.publicKeyPem);
  return { site, dir: kitDir, tls, managerKeyPem: h.publicKeyPem, generation };
}

/** A site's kit as the node reads it from its folder. */
export function readSiteKit(site: string, dir: string): SiteKit {
  const f = (n: string) => path.join(dir, n);
  for (const n of ['site.pem', 'site.key', 'ca.pem', 'manager.pub.pem'])
    if (!existsSync(f(n)))
      throw new Error(`site kit ${dir}: ${n} missing (made by weir manager site add)`);
  return {
    site: checkSiteName(site),
    dir,
    tls: { cert: f('site.pem'), key: f('site.key'), ca: f('ca.pem') },
    managerKeyPem: read(f('manager.pub.pem')),
  };
}
