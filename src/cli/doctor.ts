import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, statfsSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * `weir doctor`: what this host must have for the jobs it is given, each checked for real (a command run, a
 * file read) and each with the way to fix it. A check that cannot tell says so (unknown), never ok.
 */
export type Verdict = 'ok' | 'warn' | 'fail' | 'unknown';
export type Role = 'sensor' | 'enforcement' | 'fleet';
export const ROLES: readonly Role[] = ['sensor', 'enforcement', 'fleet'];

export interface Finding {
  check: string;
  verdict: Verdict;
  detail: string;
  /** How to fix it (absent when ok). */
  fix?: string;
}

export interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
  /** The command is not installed (ENOENT). */
  missing: boolean;
  timedOut: boolean;
}

/** What the checks look at, so tests can give a host that has or lacks each thing. */
export interface Host {
  run(cmd: string, args: string[], timeoutMs?: number): Ran;
  exists(path: string): boolean;
  read(path: string): string | null;
  /** Free and total bytes of the file system holding `dir`, or null when it cannot be read. */
  disk(dir: string): { free: number; total: number } | null;
  mode(path: string): number | null;
  /** The uid owning `path`, or null when it cannot be read. */
  owner(path: string): number | null;
  /** The uid running Weir (this process). */
  uid: number;
  nodeVersion: string;
}

export const realHost: Host = {
  run(cmd, args, timeoutMs = 5000) {
    const r = spawnSync(cmd, args, {
      encoding: 'utf8',
      timeout: timeoutMs,
      killSignal: 'SIGTERM',
      env: { ...process.env, LC_ALL: 'C' },
    });
    const code = (r.error as NodeJS.ErrnoException | undefined)?.code;
    return {
      status: r.status,
      stdout: r.stdout ?? '',
      stderr: r.stderr ?? '',
      missing: code === 'ENOENT',
      timedOut: code === 'ETIMEDOUT' || (r.signal === 'SIGTERM' && r.status === null),
    };
  },
  exists: existsSync,
  read(path) {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return null;
    }
  },
  disk(dir) {
    try {
      const s = statfsSync(dir);
      return { free: s.bavail * s.bsize, total: s.blocks * s.bsize };
    } catch {
      return null;
    }
  },
  mode(path) {
    try {
      return statSync(path).mode & 0o7777;
    } catch {
      return null;
    }
  },
  owner(path) {
    try {
      return statSync(path).uid;
    } catch {
      return null;
    }
  },
  uid: process.getuid?.() ?? -1,
  nodeVersion: process.versions.node,
};

export interface DoctorOptions {
  roles: readonly Role[];
  /** The capture interface (SPAN port or bridge) to try; null: not given. */
  iface: string | null;
  dataDir: string;
  /** The account the capture program becomes (settings capture.user). */
  captureUser: string;
  /** Where weir-capture, the live capture helper, is looked for. */
  captureHelper: string;
}

const GiB = 1024 ** 3;
const firstLine = (s: string): string => s.trim().split('\n')[0] ?? '';

export function nodeCheck(h: Host): Finding {
  const major = Number(h.nodeVersion.split('.')[0]);
  return major >= 20
    ? { check: 'node', verdict: 'ok', detail: `Node.js ${h.nodeVersion}` }
    : {
        check: 'node',
        verdict: 'fail',
        detail: `Node.js ${h.nodeVersion}; Weir needs 20 or newer`,
        fix: 'apt-get install nodejs (Debian 12 and later ship 18; use the Debian backport or NodeSource 20.x)',
      };
}

export function nftablesCheck(h: Host, needed: boolean): Finding {
  const check = 'nftables';
  const bad: Verdict = needed ? 'fail' : 'warn';
  const v = h.run('nft', ['--version']);
  if (v.missing || v.status !== 0)
    return {
      check,
      verdict: bad,
      detail: 'the nft command is not installed (enforcement loads its rules with it)',
      fix: 'apt-get install nftables',
    };
  const l = h.run('nft', ['list', 'tables']);
  if (l.status !== 0)
    return {
      check,
      verdict: bad,
      detail: `${firstLine(v.stdout)}, but it cannot read the kernel's rules here: ${firstLine(l.stderr) || `exit ${l.status}`}`,
      fix: 'run as root, or as the weir-gateway/weir-serve services, which hold CAP_NET_ADMIN (AmbientCapabilities)',
    };
  return { check, verdict: 'ok', detail: `${firstLine(v.stdout)}, kernel rules readable` };
}

export function brNetfilterCheck(h: Host, needed: boolean): Finding {
  const check = 'br_netfilter';
  if (
    h.exists('/proc/sys/net/bridge/bridge-nf-call-iptables') ||
    h.exists('/sys/module/br_netfilter')
  )
    return { check, verdict: 'ok', detail: 'loaded (/proc/sys/net/bridge present)' };
  return {
    check,
    verdict: needed ? 'fail' : 'warn',
    detail:
      'the br_netfilter module is not loaded: a bridging enforcement host cannot tell replies from new connections (enforce apply refuses) nor hand steered frames to the gateway',
    fix: 'modprobe br_netfilter && echo br_netfilter > /etc/modules-load.d/weir.conf (loaded at every boot)',
  };
}

export function captureCheck(h: Host, iface: string | null, needed: boolean): Finding {
  const check = 'capture';
  if (iface === null)
    return {
      check,
      verdict: needed ? 'unknown' : 'ok',
      detail: needed ? 'no interface given, so capture rights were not tried' : 'not a sensor here',
      ...(needed ? { fix: 'run `weir doctor --interface IFACE` with the SPAN/mirror port' } : {}),
    };
  if (!/^[A-Za-z0-9_.:@-]{1,15}$/.test(iface) || !h.exists(`/sys/class/net/${iface}`))
    return {
      check,
      verdict: 'fail',
      detail: `no network interface '${iface}' on this host`,
      fix: '`ip -br link` lists the interfaces; give the one cabled to the SPAN/mirror port',
    };
  const v = h.run('tcpdump', ['--version']);
  if (v.missing)
    return {
      check,
      verdict: 'fail',
      detail: 'tcpdump is not installed (live capture runs through it)',
      fix: 'apt-get install tcpdump',
    };
  // Open the interface for real for a moment: still capturing when the time is up means it could.
  const t = h.run('tcpdump', ['-i', iface, '-c', '1', '-w', '/dev/null'], 2000);
  if (t.timedOut || t.status === 0)
    return { check, verdict: 'ok', detail: `${iface} opened for capture with tcpdump` };
  const why = firstLine(
    t.stderr
      .split('\n')
      .filter((l) => !/^tcpdump: listening/.test(l))
      .join('\n'),
  );
  if (/not up/i.test(why))
    return {
      check,
      verdict: 'fail',
      detail: `${iface} is down: ${why}`,
      fix: `ip link set ${iface} up (and bring it up at boot in /etc/network/interfaces)`,
    };
  return {
    check,
    verdict: 'fail',
    detail: `cannot capture on ${iface}: ${why || `tcpdump exit ${t.status}`}`,
    fix: /permi|not permitted/i.test(why)
      ? 'run as root, or as the weir-serve service (AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN)'
      : 'check the interface with `tcpdump -i IFACE -c 1` and fix what it says',
  };
}

/** The command that makes the capture account, as scripts/install-deps.sh and the Debian package run it. */
const addCaptureUser = (user: string) =>
  `adduser --system --group --no-create-home --home /nonexistent --shell /usr/sbin/nologin ${user} (as scripts/install-deps.sh and the Debian package do)`;

/**
 * The account a root Weir hands the capture to (capture.user): it must exist and be neither root nor of root's
 * group (weir-capture refuses both, so live capture would stop at once). A non-root Weir (the Debian units) keeps
 * its own user, but the package makes the account all the same, so a missing one is a broken install.
 */
export function captureUserCheck(h: Host, user: string, needed: boolean): Finding {
  const check = 'capture user';
  const g = h.run('getent', ['passwd', user]);
  let line: string | null | undefined;
  if (!g.missing && g.status === 0) line = firstLine(g.stdout);
  else if (!g.missing && g.status === 2)
    line = null; // getent: no such key
  else {
    const passwd = h.read('/etc/passwd');
    if (passwd !== null) line = passwd.split('\n').find((l) => l.split(':')[0] === user) ?? null;
  }
  if (line === undefined)
    return {
      check,
      verdict: 'unknown',
      detail: `cannot tell whether the account '${user}' (capture.user) exists: no getent and no /etc/passwd`,
      fix: `getent passwd ${user}`,
    };
  if (line === null)
    return {
      check,
      verdict: needed ? 'fail' : 'warn',
      detail: `no account '${user}' (capture.user): a Weir running as root stops live capture at once, having no one to hand it to`,
      fix: addCaptureUser(user),
    };
  const [, , uidText, gidText] = line.split(':');
  const uid = /^\d+$/.test(uidText ?? '') ? Number(uidText) : NaN;
  const gid = /^\d+$/.test(gidText ?? '') ? Number(gidText) : NaN;
  if (Number.isNaN(uid) || Number.isNaN(gid))
    return {
      check,
      verdict: 'unknown',
      detail: `the account '${user}' (capture.user) reads oddly: ${line}`,
      fix: `getent passwd ${user}`,
    };
  if (uid === 0 || gid === 0)
    return {
      check,
      verdict: 'fail',
      detail: `'${user}' (capture.user) has ${uid === 0 ? 'uid 0: it is root' : "gid 0: root's group"}; the capture program parses the network's traffic and refuses to keep root`,
      fix: `set capture.user to an account of its own: ${addCaptureUser('weir-capture')}`,
    };
  if (user === 'nobody' || uid === 65534)
    return {
      check,
      verdict: 'warn',
      detail: `'${user}' (capture.user) is the shared nobody: its other processes could stop or freeze the capture`,
      fix: `set capture.user to an account of its own: ${addCaptureUser('weir-capture')}`,
    };
  return {
    check,
    verdict: 'ok',
    detail: `${user} (uid ${uid}, gid ${gid}): the capture program becomes it once the interface is open`,
  };
}

/**
 * weir-capture, the live capture helper: built, runnable (its arithmetic self-test proves it loads, libpcap
 * included), confined by seccomp, and replaceable by no one but root or the user running Weir, since a root Weir
 * starts it: the file and its folder writable by their owner only, each owned by root or that user. Not built or
 * not executable, live capture falls back to tcpdump (one pipe write per packet), so that warns; an executable
 * helper is used as it is, so one that does not run fails (live capture would fail).
 */
export function captureHelperCheck(h: Host, path: string): Finding {
  const check = 'capture helper';
  if (!h.exists(path))
    return {
      check,
      verdict: 'warn',
      detail: `${path} is not built: live capture uses tcpdump, one pipe write per packet`,
      fix: 'scripts/build-capture-helper.sh (needs gcc and libpcap-dev), or install the Debian package',
    };
  const dir = dirname(path);
  const trusted = (uid: number): boolean => uid === 0 || uid === h.uid;
  for (const [p, what] of [
    [path, path],
    [dir, `the folder ${dir}`],
  ] as const) {
    const m = h.mode(p);
    const uid = h.owner(p);
    if (m === null || uid === null)
      return {
        check,
        verdict: 'unknown',
        detail: `cannot read the mode or owner of ${p}`,
        fix: `ls -ld ${p}`,
      };
    if ((m & 0o022) !== 0)
      return {
        check,
        verdict: 'fail',
        detail: `${what} is mode ${m.toString(8)}, writable by others: whoever replaces ${p === path ? 'it' : 'the helper in it'} runs as the user who starts Weir (root, or weir with CAP_NET_RAW)`,
        fix: `chmod go-w ${p} (and check who changed it)`,
      };
    if (!trusted(uid))
      return {
        check,
        verdict: 'fail',
        detail: `${what} is owned by uid ${uid}, neither root nor the user running Weir (uid ${h.uid}): that user can replace ${p === path ? 'it' : 'the helper in it'}, and it runs as the user who starts Weir`,
        fix: `chown root:root ${p} (or install the Debian package, whose helper root owns)`,
      };
  }
  const m = h.mode(path)!;
  if ((m & 0o111) === 0)
    return {
      check,
      verdict: 'warn',
      detail: `${path} is mode ${m.toString(8)}, not executable: live capture uses tcpdump`,
      fix: `chmod 0755 ${path}`,
    };
  const t = h.run(path, ['--self-test-wrap', '7']);
  if (t.status !== 0 || t.stdout.trim() !== '7')
    return {
      check,
      verdict: 'fail',
      detail: `${path} does not run: ${firstLine(t.stderr) || (t.missing ? 'not found' : `exit ${t.status}`)}; live capture fails (an executable helper is always the one used)`,
      fix: 'apt-get install libpcap0.8 (the helper links libpcap), or rebuild it: scripts/build-capture-helper.sh (or remove it, and live capture uses tcpdump)',
    };
  // `features: seccomp` when built with libseccomp, `features:` without; an older helper knows no --features.
  const f = h.run(path, ['--features']);
  const line = f.status === 0 ? /^features:(.*)$/m.exec(f.stdout) : null;
  if (!line)
    return {
      check,
      verdict: 'unknown',
      detail: `${path} runs but does not say whether it is confined by seccomp (--features: ${firstLine(f.stderr) || firstLine(f.stdout) || `exit ${f.status}`}; an older helper)`,
      fix: 'rebuild it: npm run build (scripts/build-capture-helper.sh)',
    };
  if (!line[1]!.trim().split(/\s+/).includes('seccomp'))
    return {
      check,
      verdict: 'warn',
      detail:
        'weir-capture is not confined to its system calls (built without libseccomp-dev: scripts/install-deps.sh installs it; rebuild with npm run build)',
      fix: 'scripts/install-deps.sh (or apt-get install libseccomp-dev), then npm run build',
    };
  return { check, verdict: 'ok', detail: `${path} runs, confined by seccomp` };
}

export function diskCheck(h: Host, dir: string): Finding[] {
  if (!h.exists(dir))
    return [
      {
        check: 'data dir',
        verdict: 'fail',
        detail: `${dir} does not exist`,
        fix: `install -d -m 0700 -o weir -g weir ${dir} (the Debian package creates it)`,
      },
    ];
  const out: Finding[] = [];
  const m = h.mode(dir);
  out.push(
    m !== null && (m & 0o077) !== 0
      ? {
          check: 'data dir',
          verdict: 'warn',
          detail: `${dir} is mode ${m.toString(8)}: other users can look into the store's folder`,
          fix: `chmod 0700 ${dir}`,
        }
      : {
          check: 'data dir',
          verdict: 'ok',
          detail: `${dir}${m !== null ? ` (${m.toString(8)})` : ''}`,
        },
  );
  const d = h.disk(dir);
  if (d === null) {
    out.push({
      check: 'disk',
      verdict: 'unknown',
      detail: `cannot read the free space of ${dir}`,
      fix: `df -h ${dir}`,
    });
    return out;
  }
  const gib = (n: number) => `${(n / GiB).toFixed(1)} GiB`;
  const pct = d.total > 0 ? (100 * d.free) / d.total : 0;
  const detail = `${gib(d.free)} free of ${gib(d.total)} (${pct.toFixed(0)}%) for ${dir}`;
  const fix = `free space on the file system of ${dir}, or move the store to a larger one (weir backup, then weir restore there)`;
  if (d.free < GiB || pct < 5) out.push({ check: 'disk', verdict: 'fail', detail, fix });
  else if (d.free < 5 * GiB || pct < 10) out.push({ check: 'disk', verdict: 'warn', detail, fix });
  else out.push({ check: 'disk', verdict: 'ok', detail });
  return out;
}

export function clockCheck(h: Host): Finding {
  const check = 'clock sync';
  const fix =
    'apt-get install systemd-timesyncd (or chrony) and point it at the plant time source (NTP server on the OT network)';
  const t = h.run('timedatectl', ['show', '-p', 'NTPSynchronized', '--value']);
  if (t.status === 0 && /^(yes|no)$/.test(t.stdout.trim()))
    return t.stdout.trim() === 'yes'
      ? { check, verdict: 'ok', detail: 'synchronized (timedatectl)' }
      : {
          check,
          verdict: 'fail',
          detail: 'not synchronized (timedatectl): detection times and audit entries would be off',
          fix: `${fix}; timedatectl timesync-status shows why`,
        };
  const c = h.run('chronyc', ['-n', 'tracking']);
  if (!c.missing && c.status === 0) {
    const leap = /Leap status\s*:\s*(.+)/.exec(c.stdout)?.[1]?.trim() ?? '';
    return leap === 'Normal'
      ? { check, verdict: 'ok', detail: 'synchronized (chronyc tracking)' }
      : {
          check,
          verdict: 'fail',
          detail: `chrony is not synchronized (leap status: ${leap || 'unknown'})`,
          fix: 'chronyc sources -v shows which time sources answer',
        };
  }
  const n = h.run('ntpstat', []);
  if (!n.missing && n.status !== null && n.status <= 1)
    return n.status === 0
      ? { check, verdict: 'ok', detail: 'synchronized (ntpstat)' }
      : {
          check,
          verdict: 'fail',
          detail: 'ntp is not synchronized (ntpstat)',
          fix: 'ntpq -p shows which servers answer',
        };
  return {
    check,
    verdict: 'unknown',
    detail: `cannot tell: ${t.missing ? 'no timedatectl' : `timedatectl: ${firstLine(t.stderr) || 'no answer'}`}, no chronyc or ntpstat answered`,
    fix,
  };
}

export function natsCheck(h: Host, needed: boolean): Finding {
  const r = h.run('nats-server', ['--version']);
  if (!r.missing && r.status === 0)
    return { check: 'nats-server', verdict: 'ok', detail: firstLine(r.stdout) || 'present' };
  return {
    check: 'nats-server',
    verdict: needed ? 'fail' : 'warn',
    detail: `nats-server is not installed${needed ? '' : ' (needed only to join a fleet)'}`,
    fix: 'apt-get install nats-server (Debian 12: bookworm-backports), or the release binary from nats.io as /usr/sbin/nats-server',
  };
}

export function runDoctor(o: DoctorOptions, h: Host = realHost): Finding[] {
  const has = (r: Role) => o.roles.includes(r);
  return [
    nodeCheck(h),
    ...diskCheck(h, o.dataDir),
    clockCheck(h),
    captureCheck(h, o.iface, has('sensor')),
    captureUserCheck(h, o.captureUser, has('sensor')),
    captureHelperCheck(h, o.captureHelper),
    nftablesCheck(h, has('enforcement')),
    brNetfilterCheck(h, has('enforcement')),
    natsCheck(h, has('fleet')),
  ];
}

export function parseRoles(s: string): Role[] {
  const out = s
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean);
  for (const r of out)
    if (!(ROLES as readonly string[]).includes(r))
      throw new Error(`--role: '${r}' is not one of ${ROLES.join(', ')}`);
  return out as Role[];
}
