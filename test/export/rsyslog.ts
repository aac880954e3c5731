import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { restartablePort } from '../helpers/ports.js';

/** One message as rsyslog parsed it (RFC 5424 fields), written by the test's own template. */
export interface Received {
  input: string;
  pri: number;
  ts: string;
  host: string;
  app: string;
  procid: string;
  msgid: string;
  sd: string;
  msg: string;
}

/** A free loopback port (TCP; the kernel picks it and we release it at once). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** A self-signed CA `<name>.pem` / `<name>.key` valid for two days. */
function selfSignedCa(dir: string, name: string, cn: string): void {
  openssl(dir, [
    'req',
    '-x509',
    ...EC,
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.pem`,
    '-days',
    '2',
    '-subj',
    `/CN=${cn}`,
  ]);
}

/** A CA, a server certificate for 127.0.0.1/localhost signed by it, and an unrelated second CA. */
export function makeCerts(dir: string): { ca: string; wrongCa: string; cert: string; key: string } {
  selfSignedCa(dir, 'ca', 'weir test CA');
  selfSignedCa(dir, 'wrong-ca', 'some other CA');
  const server = certFor(dir, 'server', 'IP:127.0.0.1,DNS:localhost', 'localhost');
  return { ca: path.join(dir, 'ca.pem'), wrongCa: path.join(dir, 'wrong-ca.pem'), ...server };
}

/** A server certificate signed by the test CA for the names in `subjectAltName` (as given), CN `cn`. */
export function certFor(
  dir: string,
  name: string,
  san: string,
  cn = name,
): { cert: string; key: string } {
  openssl(dir, [
    'req',
    '-new',
    ...EC,
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.csr`,
    '-subj',
    `/CN=${cn}`,
  ]);
  writeFileSync(path.join(dir, `${name}.cnf`), `subjectAltName=${san}\n`);
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    `${name}.pem`,
    '-days',
    '2',
    '-extfile',
    `${name}.cnf`,
  ]);
  return { cert: path.join(dir, `${name}.pem`), key: path.join(dir, `${name}.key`) };
}

/**
 * A real rsyslogd on loopback ports, in its own folder with its own configuration: plain TCP (imtcp), TLS
 * (imtcp with the gtls driver, certificate from makeCerts) and UDP (imudp), every message written as one JSON
 * line of its parsed RFC 5424 fields.
 */
export class Rsyslog {
  tcpPort = 0;
  tlsPort = 0;
  udpPort = 0;
  readonly out: string;
  private proc: ChildProcess | null = null;
  certs: ReturnType<typeof makeCerts> | null = null;

  constructor(private readonly dir: string) {
    this.out = path.join(dir, 'received.jsonl');
  }

  async init(): Promise<void> {
    mkdirSync(path.join(this.dir, 'work'), { recursive: true });
    this.certs = makeCerts(this.dir);
    // Stopped and started again on the same ports (receiver down): not ports the OS hands out meanwhile.
    this.tcpPort = await restartablePort();
    this.tlsPort = await restartablePort();
    this.udpPort = await restartablePort();
    const c = this.certs;
    const prop = (out: string, name: string, extra = '') =>
      `property(outname="${out}" name="${name}" format="jsonf"${extra})`;
    writeFileSync(
      path.join(this.dir, 'rsyslog.conf'),
      `global(workDirectory="${this.dir}/work" maxMessageSize="64k"
  defaultNetstreamDriverCAFile="${c.ca}" defaultNetstreamDriverCertFile="${c.cert}" defaultNetstreamDriverKeyFile="${c.key}")
module(load="imtcp" maxSessions="100")
module(load="imudp")
input(type="imtcp" address="127.0.0.1" port="${this.tcpPort}" name="tcp")
input(type="imtcp" address="127.0.0.1" port="${this.tlsPort}" name="tls"
  streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")
input(type="imudp" address="127.0.0.1" port="${this.udpPort}" name="udp")
template(name="weirtest" type="list" option.jsonf="on") {
  ${prop('input', 'inputname')}
  ${prop('pri', 'pri')}
  ${prop('ts', 'timereported', ' dateFormat="rfc3339"')}
  ${prop('host', 'hostname')}
  ${prop('app', 'app-name')}
  ${prop('procid', 'procid')}
  ${prop('msgid', 'msgid')}
  ${prop('sd', 'structured-data')}
  ${prop('msg', 'msg')}
}
action(type="omfile" file="${this.out}" template="weirtest")
`,
    );
  }

  /** Start rsyslogd and wait until its TCP and TLS ports accept and its UDP port is bound. */
  async start(): Promise<void> {
    const args = [
      '-n',
      '-f',
      path.join(this.dir, 'rsyslog.conf'),
      '-i',
      path.join(this.dir, 'rsyslogd.pid'),
    ];
    const p = spawn('rsyslogd', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    this.proc = p;
    const until = Date.now() + 10_000;
    for (;;) {
      if (p.exitCode !== null) throw new Error(`rsyslogd exited ${p.exitCode}: ${err}`);
      if ((await accepts(this.tcpPort)) && (await accepts(this.tlsPort)) && udpBound(this.udpPort))
        return;
      if (Date.now() > until) throw new Error(`rsyslogd did not listen within 10 s: ${err}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Stop it (SIGTERM: it writes what it read and closes its connections). */
  async stop(): Promise<void> {
    const p = this.proc;
    if (p === null || p.exitCode !== null) return;
    const done = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await done;
    this.proc = null;
  }

  received(): Received[] {
    if (!existsSync(this.out)) return [];
    // rsyslogd may be writing a line as we read: only whole lines (ended by a newline) are received.
    const lines = readFileSync(this.out, 'utf8').split('\n');
    lines.pop();
    return lines
      .filter((l) => l.trim() !== '')
      .map((l) => {
        const r = JSON.parse(l) as Received & { pri: string | number };
        return { ...r, pri: Number(r.pri) };
      });
  }

  /** Wait until at least n messages were written (or the time is up). */
  async waitFor(n: number, ms = 20_000): Promise<Received[]> {
    const until = Date.now() + ms;
    for (;;) {
      const r = this.received();
      if (r.length >= n || Date.now() > until) return r;
      await new Promise((res) => setTimeout(res, 100));
    }
  }
}

/**
 * Whether a UDP socket is bound to `port` on this host (read from /proc/net/udp, not by binding or sending: a
 * datagram sent before rsyslogd binds is lost, and a bind of our own could take the port from it).
 */
function udpBound(port: number): boolean {
  const local = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return readFileSync('/proc/net/udp', 'utf8')
    .split('\n')
    .some((l) => l.trim().split(/\s+/)[1]?.endsWith(local));
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** The eventId of a received message's structured data. */
export function eventIdOf(r: Received): string | null {
  return /eventId="([^"]+)"/.exec(r.sd)?.[1] ?? null;
}

/** A running rsyslogd in a fresh temporary folder (named from `prefix`), for a test file's `before`. */
export async function startRsyslog(prefix: string): Promise<{ dir: string; rs: Rsyslog }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  const rs = new Rsyslog(dir);
  await rs.init();
  await rs.start();
  return { dir, rs };
}

/** Stops what startRsyslog started and removes its folder, for the file's `after`. */
export async function stopRsyslog(rs: Rsyslog, dir: string): Promise<void> {
  await rs.stop();
  rmSync(dir, { recursive: true, force: true });
}
