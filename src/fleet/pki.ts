/**
 * The fleet's own certificate authority, made with the system's openssl: the hub's leafnode port accepts only
 * site certificates it signed, and maps each certificate's subject (CN=site-<name>) to that site's NATS user and
 * its permissions (nats-server's verify_and_map). Debian's nats-server 2.9 cannot sign a leafnode link with a
 * bare NKEY, so sites authenticate their leaf link by mTLS; the manager's own client uses an NKEY.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { checkSiteName } from './subjects.js';

export interface CertFiles {
  cert: string;
  key: string;
  ca: string;
}

/** The distinguished name nats-server sees for a site's certificate (and the user it maps it to). */
export const siteUser = (site: string): string => `CN=site-${checkSiteName(site)}`;

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

/** A site's client certificate: what its leaf node presents to the hub. */
export function siteCert(dir: string, site: string): CertFiles {
  return issue(dir, `site-${checkSiteName(site)}`, `site-${site}`, 'extendedKeyUsage=clientAuth\n');
}
