import { spawn, type ChildProcess } from 'node:child_process';

/**
 * sd_notify without a native addon. systemd listens on a unix *datagram* socket ($NOTIFY_SOCKET), which Node
 * cannot write (node:dgram is UDP only, node:net streams only). A one-shot `systemd-notify` per message races
 * its own exit (systemd may no longer find which unit the sender belonged to), so one small helper stays alive
 * for the life of the service, in its cgroup, and sends each line it is handed as one datagram: Perl with the
 * Socket module, which Debian always has (perl-base is Essential). The unit says NotifyAccess=all because the
 * sender is the helper, not the main process.
 *
 * The watchdog ping comes from the main event loop on a timer and only when the caller's health check passes:
 * a hung or starved loop stops pinging and systemd restarts the service (Restart=always).
 */
const HELPER = String.raw`
use strict; use Socket;
my $p = $ENV{NOTIFY_SOCKET}; $p =~ s/^\@/\0/;
socket(my $s, PF_UNIX, SOCK_DGRAM, 0) or die "sd_notify: socket: $!\n";
my $to = pack_sockaddr_un($p);
while (my $l = <STDIN>) {
  chomp $l; $l =~ s/\t/\n/g;
  send($s, $l, 0, $to) or print STDERR "sd_notify: send to $ENV{NOTIFY_SOCKET}: $!\n";
}
`;

export class SystemdNotifier {
  private helper: ChildProcess | null = null;
  private timer: NodeJS.Timeout | null = null;

  private constructor(
    private readonly socket: string,
    /** Half the watchdog interval systemd asked for (null: no watchdog). */
    readonly pingMs: number | null,
  ) {}

  /** A notifier when systemd started us with a notify socket; null otherwise (run by hand, in tests, elsewhere). */
  static fromEnv(env: NodeJS.ProcessEnv = process.env): SystemdNotifier | null {
    const socket = env.NOTIFY_SOCKET;
    if (!socket) return null;
    const usec = Number(env.WATCHDOG_USEC);
    const forUs = env.WATCHDOG_PID === undefined || Number(env.WATCHDOG_PID) === process.pid;
    return new SystemdNotifier(
      socket,
      Number.isFinite(usec) && usec > 0 && forUs ? Math.max(50, usec / 2000) : null,
    );
  }

  /** Send one notification: KEY=VALUE assignments. */
  send(fields: Record<string, string | number>): void {
    const line = Object.entries(fields)
      .map(([k, v]) => `${k}=${String(v).replace(/[\t\n]/g, ' ')}`)
      .join('\t');
    const h = this.process();
    try {
      h?.stdin?.write(`${line}\n`);
    } catch {
      /* the helper died: the watchdog, if any, notices the silence */
    }
  }

  ready(status: string): void {
    this.send({ READY: 1, STATUS: status, MAINPID: process.pid });
  }

  /** Ping the watchdog every half interval while `healthy()` holds (no watchdog asked for: nothing). */
  startWatchdog(healthy: () => boolean): void {
    if (this.pingMs === null || this.timer !== null) return;
    const ping = (): void => {
      let ok = false;
      try {
        ok = healthy();
      } catch {
        ok = false;
      }
      if (ok) this.send({ WATCHDOG: 1 });
    };
    this.timer = setInterval(ping, this.pingMs);
    this.timer.unref();
    ping();
  }

  stopping(status = 'stopping'): void {
    this.send({ STOPPING: 1, STATUS: status });
  }

  close(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    const h = this.helper;
    this.helper = null;
    h?.stdin?.end();
  }

  private process(): ChildProcess | null {
    if (this.helper !== null && this.helper.exitCode === null) return this.helper;
    try {
      const h = spawn('perl', ['-e', HELPER], {
        stdio: ['pipe', 'ignore', 'inherit'],
        env: { ...process.env, NOTIFY_SOCKET: this.socket },
      });
      h.on('error', (err) =>
        process.stderr.write(`weir: sd_notify helper (perl) cannot run: ${err.message}\n`),
      );
      h.stdin!.on('error', () => undefined);
      h.unref();
      (h.stdin as unknown as { unref?: () => void }).unref?.();
      this.helper = h;
      return h;
    } catch (err) {
      process.stderr.write(`weir: sd_notify helper (perl) cannot run: ${(err as Error).message}\n`);
      return null;
    }
  }
}
