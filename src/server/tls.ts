import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { isIP } from 'node:net';

export interface TlsMaterial {
  key: string;
  cert: string;
  fingerprint: string;
  keyFile: string;
  certFile: string;
  generated: boolean;
}

/** Where `weir serve --tls` keeps its own certificate: beside the store, so it is the same on every start. */
export const tlsFilesOf = (dbPath: string) => ({
  keyFile: `${dbPath}.tls-key.pem`,
  certFile: `${dbPath}.tls-cert.pem`,
});

/** An operator's own certificate and key (PEM). */
export function loadTls(
  certFile: string,
  keyFile: string,
  warn: (msg: string) => void = () => {},
): TlsMaterial {
  if ((statSync(keyFile).mode & 0o077) !== 0)
    warn(`${keyFile} can be read by other users; chmod 600 it`);
  const cert = readFileSync(certFile, 'utf8');
  const key = readFileSync(keyFile, 'utf8');
  return {
    cert,
    key,
    fingerprint: new X509Certificate(cert).fingerprint256,
    certFile,
    keyFile,
    generated: false,
  };
}

/**
 * The certificate beside the store, made on first use: a P-256 key from node:crypto, a self-signed X.509
 * certificate from openssl, for localhost, loopback and the given names. Both files are 0600. Users verify it
 * by its SHA-256 fingerprint, which `weir serve` prints.
 */
export function selfSignedTls(dbPath: string, names: readonly string[]): TlsMaterial {
  const { keyFile, certFile } = tlsFilesOf(dbPath);
  if (existsSync(keyFile) && existsSync(certFile)) {
    for (const f of [keyFile, certFile]) if ((statSync(f).mode & 0o077) !== 0) chmodSync(f, 0o600);
    return loadTls(certFile, keyFile);
  }
  if (existsSync(keyFile) || existsSync(certFile))
    throw new Error(
      `only one of ${keyFile} and ${certFile} exists: remove it to make a new certificate`,
    );
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const key = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const tmpKey = `${keyFile}.${process.pid}.tmp`;
  writeFileSync(tmpKey, key, { mode: 0o600, flag: 'wx' });
  try {
    const san = [...new Set(['localhost', '127.0.0.1', '::1', ...names])]
      .filter((n) => n !== '0.0.0.0' && n !== '::')
      .map((n) => (isIP(n) ? `IP:${n}` : `DNS:${n}`))
      .join(',');
    const cert = execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-new',
        '-key',
        tmpKey,
        '-sha256',
        '-days',
        '825',
        '-subj',
        '/CN=weir',
        '-addext',
        `subjectAltName=${san}`,
        '-addext',
        'extendedKeyUsage=serverAuth',
        '-addext',
        'basicConstraints=critical,CA:FALSE',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    ).toString();
    writeFileSync(certFile, cert, { mode: 0o600, flag: 'wx' });
    renameSync(tmpKey, keyFile);
    return {
      key,
      cert,
      fingerprint: new X509Certificate(cert).fingerprint256,
      keyFile,
      certFile,
      generated: true,
    };
  } catch (err) {
    rmSync(tmpKey, { force: true });
    throw new Error(
      `could not make a self-signed certificate with openssl: ${(err as Error).message}`,
    );
  }
}
