// Real directory peers for the permit tests: an OpenLDAP slapd and a FreeRADIUS, each with its own
// configuration in a temporary folder, on loopback ports of its own, stopped (and the folder removed) after.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'ldapts';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function freeTcpPort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

function freeUdpPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    s.bind(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

export const hasPeers = (): boolean =>
  ['/usr/sbin/slapd', '/usr/sbin/slapadd', '/usr/sbin/freeradius'].every(
    (f) => spawnSync('test', ['-x', f]).status === 0,
  );

export interface Peer {
  port: number;
  stop(): Promise<void>;
  output(): string;
}

function stopper(child: ChildProcess, dir: string): () => Promise<void> {
  return async () => {
    if (child.exitCode === null) {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([gone, sleep(3000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  };
}

export interface LdapPerson {
  uid: string;
  password: string;
  groups: string[];
}

export const BASE_DN = 'dc=plant,dc=test';

/**
 * slapd with a mdb database under dc=plant,dc=test, the memberof overlay (so people carry memberOf, as in
 * Active Directory), people under ou=people and groupOfNames under ou=groups, added over LDAP by the admin.
 */
export async function startSlapd(people: LdapPerson[]): Promise<Peer & { url: string }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-slapd-'));
  mkdirSync(path.join(dir, 'db'));
  const port = await freeTcpPort();
  const conf = path.join(dir, 'slapd.conf');
  writeFileSync(
    conf,
    `include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
pidfile ${dir}/slapd.pid
database mdb
maxsize 10485760
suffix "${BASE_DN}"
rootdn "cn=admin,${BASE_DN}"
rootpw admin-secret
directory ${dir}/db
overlay memberof
`,
  );
  writeFileSync(
    path.join(dir, 'base.ldif'),
    `dn: ${BASE_DN}\nobjectClass: dcObject\nobjectClass: organization\no: plant\ndc: plant\n\n` +
      `dn: ou=people,${BASE_DN}\nobjectClass: organizationalUnit\nou: people\n\n` +
      `dn: ou=groups,${BASE_DN}\nobjectClass: organizationalUnit\nou: groups\n`,
  );
  const add = spawnSync('slapadd', ['-f', conf, '-l', path.join(dir, 'base.ldif')], {
    encoding: 'utf8',
  });
  if (add.status !== 0) throw new Error(`slapadd failed: ${add.stderr}`);
  const url = `ldap://127.0.0.1:${port}`;
  const child = spawn('slapd', ['-f', conf, '-h', `${url}/`, '-d', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const stop = stopper(child, dir);
  const admin = new Client({ url, timeout: 5000, connectTimeout: 5000 });
  try {
    for (let i = 0; ; i++) {
      try {
        await admin.bind(`cn=admin,${BASE_DN}`, 'admin-secret');
        break;
      } catch (err) {
        if (i > 600 || child.exitCode !== null) throw new Error(`slapd did not start: ${out}`);
        await sleep(50);
      }
    }
    for (const p of people)
      await admin.add(`uid=${p.uid},ou=people,${BASE_DN}`, {
        objectClass: ['inetOrgPerson'],
        uid: p.uid,
        cn: p.uid,
        sn: p.uid,
        userPassword: p.password,
      });
    const groups = new Set(people.flatMap((p) => p.groups));
    for (const g of groups)
      await admin.add(`cn=${g},ou=groups,${BASE_DN}`, {
        objectClass: ['groupOfNames'],
        cn: g,
        member: people
          .filter((p) => p.groups.includes(g))
          .map((p) => `uid=${p.uid},ou=people,${BASE_DN}`),
      });
  } catch (err) {
    await stop();
    throw err;
  } finally {
    await admin.unbind().catch(() => undefined);
  }
  return { port, url, stop, output: () => out };
}

export interface RadiusPerson {
  user: string;
  password: string;
  /** Sent back as Class and Filter-Id in the Access-Accept. */
  group: string;
}

/** FreeRADIUS with a configuration of its own: PAP against a users file, one client (127.0.0.1) and secret. */
export async function startFreeradius(people: RadiusPerson[], secret: string): Promise<Peer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-radius-'));
  for (const d of ['log', 'run']) mkdirSync(path.join(dir, d));
  const port = await freeUdpPort();
  writeFileSync(
    path.join(dir, 'radiusd.conf'),
    `prefix = /usr
exec_prefix = /usr
sysconfdir = /etc
localstatedir = /var
sbindir = /usr/sbin
logdir = ${dir}/log
raddbdir = ${dir}
radacctdir = ${dir}/log
name = freeradius
confdir = \${raddbdir}
modconfdir = \${confdir}
run_dir = ${dir}/run
db_dir = ${dir}
libdir = /usr/lib/freeradius
pidfile = \${run_dir}/radiusd.pid
max_request_time = 30
cleanup_delay = 1
max_requests = 1024
hostname_lookups = no
log {
  destination = stdout
}
security {
  allow_core_dumps = no
}
client weir {
  ipaddr = 127.0.0.1
  secret = ${secret}
}
modules {
  pap {
  }
  files {
    filename = \${confdir}/users
  }
}
server default {
  listen {
    type = auth
    ipaddr = 127.0.0.1
    port = ${port}
  }
  authorize {
    files
    pap
  }
  authenticate {
    Auth-Type PAP {
      pap
    }
  }
  post-auth {
  }
}
`,
  );
  writeFileSync(path.join(dir, 'dictionary'), '$INCLUDE /usr/share/freeradius/dictionary\n');
  writeFileSync(
    path.join(dir, 'users'),
    people
      .map(
        (p) =>
          `${p.user} Cleartext-Password := "${p.password}"\n      Class := "${p.group}", Filter-Id := "${p.group}"\n`,
      )
      .join(''),
  );
  const child = spawn('freeradius', ['-X', '-d', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const stop = stopper(child, dir);
  for (let i = 0; !out.includes('Ready to process requests'); i++) {
    if (i > 200 || child.exitCode !== null) {
      await stop();
      throw new Error(`freeradius did not start: ${out.slice(-2000)}`);
    }
    await sleep(50);
  }
  return { port, stop, output: () => out };
}
