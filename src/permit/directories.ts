import type { Settings } from '../settings/model.js';
import type { Directory } from './directory.js';
import { LdapDirectory } from './ldap.js';
import { RadiusDirectory } from './radius.js';

export type DirectoryKind = 'ldap' | 'radius';

/** The directories the settings configure (LDAP when `iam.ldap.url` is set, RADIUS when `iam.radius.host` is). */
export function configuredDirectories(iam: Settings['iam']): DirectoryKind[] {
  const out: DirectoryKind[] = [];
  if (iam.ldap.url !== '') out.push('ldap');
  if (iam.radius.host !== '') out.push('radius');
  return out;
}

/** The directory to ask: the one named, else the first configured; a clear error when there is none. */
export function directoryFrom(iam: Settings['iam'], kind?: string): Directory {
  const have = configuredDirectories(iam);
  if (kind !== undefined && kind !== 'ldap' && kind !== 'radius')
    throw new Error(`directory '${kind}' is not ldap or radius`);
  const k = (kind as DirectoryKind | undefined) ?? have[0];
  if (k === undefined || !have.includes(k))
    throw new Error(
      `no ${k ?? 'directory'} configured: set iam.ldap.url or iam.radius.host in the settings file`,
    );
  if (k === 'ldap') {
    const l = iam.ldap;
    return new LdapDirectory({
      url: l.url,
      bindDn: l.bind_dn,
      baseDn: l.base_dn,
      userFilter: l.user_filter,
      groupFilter: l.group_filter,
      caFile: l.ca_file || undefined,
      timeoutMs: l.timeout_ms,
    });
  }
  const r = iam.radius;
  if (r.secret_file === '') throw new Error('iam.radius.secret_file is not set');
  return new RadiusDirectory({
    host: r.host,
    port: r.port,
    secretFile: r.secret_file,
    timeoutMs: r.timeout_ms,
    retries: r.retries,
  });
}
