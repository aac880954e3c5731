/**
 * The fleet's own certificate authority, made with the system's openssl: the hub's leafnode port accepts only
 * site certificates it signed, and maps each certificate's subject (CN=site-<name>.g<generation>) to that site's
 * NATS user and its permissions (nats-server's verify_and_map). The generation counts the name's enrolments: the
 * hub maps only the current one, so a certificate of an earlier enrolment (a removed site's kept key) never
 * maps to anyone again — nats-server 2.9 checks no revocation list on leaf links, so this is the revocation. Debian's nats-server 2.9 cannot sign a leafnode link with a
 * bare NKEY, so sites authenticate their leaf link by mTLS; the manager's own client uses an NKEY.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { checkSiteName } from './subjects.js';

export interface CertFiles {
  cert: string;
  key: string;
  ca: string;
}

/**
 * A site's certificate name for one enrolment; generation 0 is a folder made before generations (CN=site-<name>).
 * Site names have no dots, so no name of one generation is another's.
 */
export function siteCn(site: string, generation: number): string {
  if (!Number.isInteger(generation) || generation < 0)
    throw new Error(`site ${site}: enrolment generation ${generation} is not a whole number`);
  return `site-${checkSiteName(site)}${generation === 0 ? '' : `.g${generation}`}`;
}

/** The distinguished name nats-server sees for a site's certificate (and the user it maps it to). */
export const siteUser = (site: string, generation: number): string =>
  `CN=${siteCn(site, generation)}`;

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    throw new Error(`openssl ${args[0]}: ${e.stderr?.toString().trim() || e.message}`);
  }
}

/** The CA of `dir` (made on first use; its key never leaves the manager). */
export function ensureCa(dir: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ca = path.join(dir, 'ca.pem');
  if (existsSync(ca)) return ca;
  openssl(
    ['req', '-x509', '-newkey', 'ed25519', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem'].concat([
      '-days',
      '3650',
      '-subj',
      '/CN=weir-fleet-ca',
    ]),
    dir,
  );
  chmodSync(path.join(dir, 'ca.key'), 0o600);
  return ca;
}

function issue(dir: string, name: string, cn: string, ext: string): CertFiles {
  const ca = ensureCa(dir);
  const cert = path.join(dir, `${name}.pem`);
  const key = path.join(dir, `${name}.key`);
  if (!existsSync(cert)) {
    writeFileSync(path.join(dir, `${name}.ext`), ext);
    openssl(
      [
        'req',
        '-newkey',
        'ed25519',
        '-nodes',
        '-keyout',
        `${name}.key`,
        '-out',
        `${name}.csr`,
      ].concat(['-subj', `/CN=${cn}`]),
      dir,
    );
    chmodSync(key, 0o600);
    openssl(
      ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key'].concat([
        '-CAcreateserial',
        '-out',
        `${name}.pem`,
        '-days',
        '825',
        '-extfile',
        `${name}.ext`,
      ]),
      dir,
    );
  }
  return { cert, key, ca };
}

/** The hub's server certificate, valid for `hosts` (addresses or names sites dial). */
export function hubCert(dir: string, hosts: string[]): CertFiles {
  const san = hosts.map((h) => (isIP(h) ? `IP:${h}` : `DNS:${h}`)).join(',');
  return issue(
    dir,
    'hub',
    'weir-hub',
    `subjectAltName=${san}\nextendedKeyUsage=serverAuth,clientAuth\n`,
  );
}

/** A site's client certificate for one enrolment: what its leaf node presents to the hub. */
export function siteCert(dir: string, site: string, generation: number): CertFiles {
  const cn = siteCn(site, generation);
  return issue(dir, cn, cn, 'extendedKeyUsage=clientAuth\n');
}

/** Forget an enrolment's private key (its kit went to the site; a removed site's key is of no more use here). */
export function dropSiteKey(dir: string, site: string, generation: number): void {
  const cn = siteCn(site, generation);
  for (const ext of ['key', 'csr', 'ext']) rmSync(path.join(dir, `${cn}.${ext}`), { force: true });
}
