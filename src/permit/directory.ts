/**
 * A directory that vouches for a person: it checks their password and names the groups they belong to.
 * LDAP/Active Directory (ldap.ts) and RADIUS (radius.ts) answer to this; the permit service asks one.
 */
export interface Directory {
  /** 'ldap' or 'radius', for the audit trail. */
  readonly kind: string;
  verify(user: string, password: string): Promise<Vouch>;
}

/** Why a directory did not vouch: the audit says which, the person is told only "refused". */
export type DirectoryRefusal = 'bad_credentials' | 'unreachable' | 'bad_answer';

export type Vouch =
  | { ok: true; user: string; groups: string[] }
  | { ok: false; reason: DirectoryRefusal; detail: string };

/** User names a person types: letters, digits and the few marks account names use; nothing a filter reads. */
const USER = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/;

/** A name no directory account has (wildcards, filter or DN syntax): refused before anything is sent. */
export function notAnAccount(user: string): Vouch | null {
  return USER.test(user)
    ? null
    : { ok: false, reason: 'bad_credentials', detail: 'not an account name' };
}

/** A group name as templates compare it: a DN is lower-cased with spaces around separators dropped. */
export function groupKey(g: string): string {
  return g
    .trim()
    .toLowerCase()
    .replace(/\s*([,=+])\s*/g, '$1');
}

/**
 * Whether a person's groups include one a template names. A template names a group by its common name
 * ("plc-maintenance") or its whole DN; a directory answers DNs (memberOf) or plain values (RADIUS Class).
 */
export function inGroup(groups: string[], wanted: string[]): string | null {
  const have = new Set<string>();
  for (const g of groups) {
    const k = groupKey(g);
    have.add(k);
    const cn = /^cn=([^,]+)/.exec(k);
    if (cn) have.add(cn[1]!);
  }
  return wanted.find((w) => have.has(groupKey(w))) ?? null;
}
