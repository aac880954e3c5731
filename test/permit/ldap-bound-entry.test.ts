// The groups a directory vouches for are those of the account that bound, never of another entry the user filter
// happens to find first (review 12, L5). Against a real slapd: bob (office) binds with his own password while an
// entry with his uid elsewhere under the base (a contractors' OU, filled by self-service) is in plc-maintenance.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from 'ldapts';
import { LdapDirectory } from '../../src/permit/ldap.js';
import { BASE_DN, hasPeers, startSlapd } from './peers.js';

test(
  'an entry with the same uid in another OU does not lend its groups to the person who bound',
  { timeout: 60_000 },
  async (t) => {
    if (!hasPeers()) {
      if (process.env.CI === 'true') throw new Error('needs slapd and freeradius');
      return t.skip('needs slapd and freeradius');
    }
    const slapd = await startSlapd([]);
    t.after(() => slapd.stop());
    const admin = new Client({ url: slapd.url, timeout: 5000 });
    await admin.bind(`cn=admin,${BASE_DN}`, 'admin-secret');
    const own = `uid=bob,ou=people,${BASE_DN}`;
    const other = `uid=bob,ou=contractors,${BASE_DN}`;
    const person = (sn: string, userPassword: string) => ({
      objectClass: ['inetOrgPerson'],
      uid: 'bob',
      cn: 'bob',
      sn,
      userPassword,
    });
    // The other entry was there first, so the filter finds it first.
    await admin.add(`ou=contractors,${BASE_DN}`, {
      objectClass: ['organizationalUnit'],
      ou: 'contractors',
    });
    await admin.add(other, person('contractor', 'other-pw'));
    await admin.add(own, person('bob', 'bob-pw'));
    for (const [cn, member] of [
      ['plc-maintenance', other],
      ['office', own],
    ])
      await admin.add(`cn=${cn},ou=groups,${BASE_DN}`, {
        objectClass: ['groupOfNames'],
        cn: cn!,
        member: [member!],
      });
    const found = await admin.search(BASE_DN, { scope: 'sub', filter: '(uid=bob)' });
    assert.equal(found.searchEntries[0]?.dn, other, 'the filter finds the other entry first');
    await admin.unbind();

    const directory = new LdapDirectory({
      url: slapd.url,
      bindDn: `uid={user},ou=people,${BASE_DN}`,
      baseDn: BASE_DN,
      userFilter: '(uid={user})',
      groupFilter: '(|(member={dn})(uniqueMember={dn}))',
      timeoutMs: 3000,
    });
    const v = await directory.verify('bob', 'bob-pw');
    assert.ok(v.ok, JSON.stringify(v));
    const groups = v.groups.map((g) => g.toLowerCase());
    assert.ok(!groups.some((g) => g.includes('plc-maintenance')), JSON.stringify(groups));
    assert.ok(groups.includes(`cn=office,ou=groups,${BASE_DN}`), JSON.stringify(groups));
  },
);
