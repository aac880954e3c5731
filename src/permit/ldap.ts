import { readFileSync } from 'node:fs';
import { Client, InvalidCredentialsError } from 'ldapts';
import { notAnAccount, type Directory, type Vouch } from './directory.js';

export interface LdapOptions {
  url: string;
  /** The person's bind name, `{user}` standing for the account name: uid={user},ou=people,… or {user}@domain. */
  bindDn: string;
  /** Where the person's entry and the groups are looked up. */
  baseDn: string;
  /** Finds the person's entry (for memberOf); `{user}` is escaped before it goes in. */
  userFilter: string;
  /** Finds groups listing the person (`{dn}`), for directories without memberOf. */
  groupFilter: string;
  caFile?: string;
  timeoutMs: number;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;
/** The "Who am I?" extended operation (RFC 4532). */
const WHO_AM_I = '1.3.6.1.4.1.4203.1.11.3';

/** A bind template that is a DN (uid={user},ou=people,…), not a name the directory maps (user@domain, DOMAIN\user). */
const isDnTemplate = (t: string): boolean => t.includes('=') && !t.startsWith('{user}@');

/** RFC 4514: a value inside a DN escapes these (a name like "a,ou=admins" must stay one value). */
function escapeDnValue(v: string): string {
  return v
    .replace(/[\\,+"<>;=]/g, (c) => `\\${c}`)
    .replace(/^[ #]/, (c) => `\\${c}`)
    .replace(/ $/, '\\ ');
}

/** RFC 4515: a value inside a filter escapes these (a name like "*" must not match everyone). */
function escapeFilterValue(v: string): string {
  return v.replace(/[\\*()\0]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/**
 * LDAP or Active Directory: the person binds as themselves (their password is checked by the directory, never
 * stored here), then their groups are read under that bind — memberOf of their entry, and the groups that
 * list them as member or uniqueMember.
 */
export class LdapDirectory implements Directory {
  readonly kind = 'ldap';

  constructor(private readonly o: LdapOptions) {
    if (!/^ldaps?:\/\//.test(o.url))
      throw new Error(`'${o.url}' is not an ldap:// or ldaps:// URL`);
    // People's passwords go to the directory in the bind: never in clear across the plant network.
    const host = /^ldap:\/\/\[?([^\]/:]+)/.exec(o.url)?.[1];
    if (host !== undefined && !LOOPBACK.test(host))
      throw new Error(
        `${o.url}: passwords would cross the network in clear; use ldaps:// (with iam.ldap.ca_file)`,
      );
    if (!o.bindDn.includes('{user}')) throw new Error('the bind DN template needs {user}');
  }

  async verify(user: string, password: string): Promise<Vouch> {
    const odd = notAnAccount(user);
    if (odd !== null) return odd;
    // An empty password is an "unauthenticated bind" that many directories accept: never a proof.
    if (password.length === 0)
      return { ok: false, reason: 'bad_credentials', detail: 'empty password' };
    const client = new Client({
      url: this.o.url,
      timeout: this.o.timeoutMs,
      connectTimeout: this.o.timeoutMs,
      ...(this.o.caFile ? { tlsOptions: { ca: [readFileSync(this.o.caFile)] } } : {}),
    });
    const bindAs = this.o.bindDn.replaceAll(
      '{user}',
      isDnTemplate(this.o.bindDn) ? escapeDnValue(user) : user,
    );
    try {
      try {
        await client.bind(bindAs, password);
      } catch (err) {
        if (err instanceof InvalidCredentialsError)
          return { ok: false, reason: 'bad_credentials', detail: 'the directory refused the bind' };
        return { ok: false, reason: 'unreachable', detail: (err as Error).message };
      }
      const groups = new Set<string>();
      const own = await this.boundEntry(client, bindAs, user);
      if (typeof own === 'string') return { ok: false, reason: 'bad_answer', detail: own };
      const dn = own.dn;
      for (const g of [own.memberOf ?? []].flat()) groups.add(String(g));
      const listed = await client.search(this.o.baseDn, {
        scope: 'sub',
        filter: this.o.groupFilter.replaceAll('{dn}', escapeFilterValue(dn)),
        attributes: ['cn'],
        sizeLimit: 1000,
      });
      for (const e of listed.searchEntries) groups.add(e.dn);
      return { ok: true, user, groups: [...groups] };
    } catch (err) {
      return { ok: false, reason: 'bad_answer', detail: (err as Error).message };
    } finally {
      await client.unbind().catch(() => undefined);
    }
  }

  /**
   * The directory entry of the account that bound, whose groups are the person's (a reason when it cannot be
   * told). With a DN bind template it is that DN's own entry; otherwise (user@domain, DOMAIN\user) the directory
   * is asked who the bind was (RFC 4532): a DN is read as such; a name (Active Directory's "u:DOMAIN\name") must
   * be the one entry the user filter finds, and that entry must carry it. Another entry with the same name
   * elsewhere under the base (another OU, a self-service area) never lends its groups.
   */
  private async boundEntry(
    client: Client,
    bindAs: string,
    user: string,
  ): Promise<{ dn: string; memberOf?: unknown } | string> {
    let dn: string | null = isDnTemplate(this.o.bindDn) ? bindAs : null;
    let account: string | null = null;
    if (dn === null) {
      const who = String((await client.exop(WHO_AM_I)).value ?? '');
      if (who.startsWith('dn:')) dn = who.slice(3);
      else if (who.startsWith('u:')) account = who.slice(2).replace(/^.*\\/, '');
      else return `the directory did not say who bound as ${bindAs} ('${who}')`;
    }
    if (dn !== null) {
      const found = await client.search(dn, {
        scope: 'base',
        filter: '(objectClass=*)',
        attributes: ['memberOf'],
      });
      const e = found.searchEntries[0];
      return e === undefined ? `no entry ${dn} to read the groups of` : e;
    }
    const found = await client.search(this.o.baseDn, {
      scope: 'sub',
      filter: this.o.userFilter.replaceAll('{user}', escapeFilterValue(user)),
      attributes: ['memberOf', 'sAMAccountName', 'uid'],
      sizeLimit: 2,
    });
    if (found.searchEntries.length !== 1)
      return `the user filter finds ${found.searchEntries.length === 0 ? 'no entry' : 'more than one entry'} for ${user}: the groups of the account that bound cannot be told`;
    const e = found.searchEntries[0]!;
    const names = [e.sAMAccountName, e.uid].flat().map((n) => String(n ?? '').toLowerCase());
    if (!names.includes(account!.toLowerCase()))
      return `the entry the user filter finds (${e.dn}) is not the account that bound (${account})`;
    return e;
  }
}
