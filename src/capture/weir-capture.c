/*
 * weir-capture: Weir's live capture helper. Captures on one interface with libpcap and writes classic pcap to
 * stdout, flushed once per batch that libpcap hands over (one pcap_dispatch: a retired TPACKET_V3 block, or
 * the frames that arrived within the buffer timeout), instead of once per packet as `tcpdump -U` does. A lone
 * frame on an idle link still leaves within the timeout (-t, default 100 ms): detections are never held back
 * waiting for more traffic. At exit it prints libpcap's counters on stderr in tcpdump's wording, so Weir reads
 * them the same way ("N packets captured", "N packets received by filter", "N packets dropped by kernel").
 *
 * It parses hostile networks' traffic only through libpcap, but keeps no privilege it does not need for that:
 * once the interface is open and its filter set, it gives up root for USER (-Z, as tcpdump -Z: supplementary
 * groups cleared, then setgid, setuid) and every capability (a non-root Weir hands CAP_NET_RAW/CAP_NET_ADMIN
 * down as ambient capabilities: there is no user to switch from, and those are dropped), sets no_new_privs,
 * then checks that it all took (not root, setuid(0) fails, no capability left) and refuses to capture if not.
 * Built with libseccomp (WEIR_SECCOMP), it then confines itself to the few system calls capturing needs (see
 * confine): a non-root Weir's helper keeps that uid (weir, which owns the store), so its file access must go too.
 *
 * Usage: weir-capture -i IFACE [-Z USER] [-s SNAPLEN] [-B BUFFER_KIB] [-t TIMEOUT_MS] [-S SECONDS] [-I] [-X WHAT]
 *                     [--] [BPF ...]
 *        weir-capture --features   (prints "features: seccomp" when built confined, "features:" when not)
 *   -Z  the user to run as once the interface is open, when started as root (default: weir-capture, a system
 *       account of its own: the shared `nobody` would let any other nobody process signal or trace it).
 *   -S  also print the counters every SECONDS while capturing ("weir-capture: counters ..."); 0: only at exit.
 *   -I  immediate mode: each packet handed over as it arrives (still one write per dispatched batch).
 *   -X  tests only: at the first counters tick, make a system call the confinement must punish with death:
 *       `open` (a file), `write-socket` (the packet socket, its fd number with high bits set: the kernel reads
 *       only the low 32), `fanout` (a packet socket option that is not the counters' nor the ring's).
 * Stops on SIGINT/SIGTERM/SIGHUP from its parent (Weir) or the kernel (its parent died), exiting 0; the same
 * signals from any other process stop it too (they cannot be refused) but it says who sent them and exits 3,
 * so Weir reports an early stop, never a normal end. Also stops when stdout closes (EPIPE).
 * libpcap's kernel counters are 32-bit and wrap (at 1.48 Mpps within the hour): it reads them at least every
 * STATS_EVERY_S seconds and keeps 64-bit totals.
 * Built by scripts/build-capture-helper.sh (gcc, libpcap-dev, libseccomp-dev); Weir falls back to tcpdump
 * without it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/if_packet.h>
#include <pcap/pcap.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>
#ifdef WEIR_SECCOMP
#include <seccomp.h>
#endif

static pcap_t *handle;
static volatile sig_atomic_t stopping, counters_due;
static unsigned long long captured;
/* Who started us: a stop signal from anyone else is reported as such (read before the handler is set). */
static pid_t parent;
/* A stop signal that neither the parent nor the kernel sent: its number, sender pid and uid. */
static volatile sig_atomic_t foreign_sig, foreign_pid, foreign_uid;

static void on_signal(int sig, siginfo_t *si, void *ctx) {
  (void)ctx;
  /* The kernel's PDEATHSIG comes as SI_USER from the dying parent's pid; SI_KERNEL or pid 0: the kernel. */
  int ours = si == NULL || si->si_code == SI_KERNEL || si->si_pid == 0 || si->si_pid == parent;
  if (!ours && !foreign_sig) {
    foreign_sig = sig;
    foreign_pid = si->si_pid;
    foreign_uid = (sig_atomic_t)si->si_uid;
  }
  stopping = 1;
  if (handle) pcap_breakloop(handle);
}

/* Read the kernel counters at least this often: a 32-bit counter cannot wrap twice between two readings. */
#define STATS_EVERY_S 2

/* libpcap's counters, kept as 64-bit totals across the 32-bit kernel counters' wraps. */
struct totals {
  unsigned long long recv, drop, ifdrop;
  unsigned int last_recv, last_drop, last_ifdrop;
};

/* Add what a 32-bit counter moved since its last reading (modulo 2^32: a wrap adds the small remainder). */
static void accumulate(unsigned long long *total, unsigned int *last, unsigned int now) {
  *total += (unsigned int)(now - *last);
  *last = now;
}

static void add_stats(struct totals *t, const struct pcap_stat *st) {
  accumulate(&t->recv, &t->last_recv, st->ps_recv);
  accumulate(&t->drop, &t->last_drop, st->ps_drop);
  accumulate(&t->ifdrop, &t->last_ifdrop, st->ps_ifdrop);
}

/*
 * The kernel's counters, as libpcap's pcap_stats reads them on Linux, but without opening a file each time (it
 * opens the interface's sysfs drop counters on every call, which the confinement below forbids): the two sysfs
 * files are opened once before it, and read again in place. The socket's PACKET_STATISTICS are reset by each
 * reading, so running 32-bit totals are kept as libpcap keeps them (and add_stats takes their wraps in turn).
 */
static int sysfs_fd[2] = {-1, -1};
static long long sysfs_dropped;
static struct pcap_stat kernel_totals;

/* -1 when unreadable (the interface went away and its sysfs file with it): the caller keeps its base. */
static long long sysfs_count(int fd) {
  char b[32];
  if (fd < 0) return 0;
  ssize_t n = pread(fd, b, sizeof b - 1, 0);
  if (n <= 0) return -1;
  b[n] = '\0';
  return strtoll(b, NULL, 10);
}

static long long sysfs_drops(void) {
  long long a = sysfs_count(sysfs_fd[0]), b = sysfs_count(sysfs_fd[1]);
  return a < 0 || b < 0 ? -1 : a + b;
}

/* The interface's drop counters (NIC ring overruns), as a base: what libpcap counts from its start. */
static void open_sysfs_drops(const char *iface) {
  const char *names[2] = {"rx_missed_errors", "rx_fifo_errors"};
  for (int i = 0; i < 2; i++) {
    char path[512];
    if (snprintf(path, sizeof path, "/sys/class/net/%s/statistics/%s", iface, names[i]) < (int)sizeof path)
      sysfs_fd[i] = open(path, O_RDONLY | O_CLOEXEC);
  }
  sysfs_dropped = sysfs_drops();
  if (sysfs_dropped < 0) { /* unreadable from the start: no interface drops to count (as "any" has none) */
    for (int i = 0; i < 2; i++) close(sysfs_fd[i]), sysfs_fd[i] = -1;
    sysfs_dropped = 0;
  }
}

static int kernel_stats(struct pcap_stat *st) {
  long long now = sysfs_drops();
  if (now >= sysfs_dropped) kernel_totals.ps_ifdrop += (u_int)(now - sysfs_dropped);
  if (now >= 0) sysfs_dropped = now; /* a failed or reset read adds nothing (never 2^32 - was) */
  struct tpacket_stats_v3 k;
  socklen_t len = sizeof k;
  if (getsockopt(pcap_fileno(handle), SOL_PACKET, PACKET_STATISTICS, &k, &len) != 0) return -1;
  kernel_totals.ps_recv += k.tp_packets;
  kernel_totals.ps_drop += k.tp_drops;
  *st = kernel_totals;
  return 0;
}

/* A number argument in [min, max], or a usage error. */
static long number(const char *s, long min, long max, const char *what) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
    fprintf(stderr, "weir-capture: %s \"%s\": not a number from %ld to %ld\n", what, s, min, max);
    exit(2);
  }
  return v;
}

/* The counters' timer: an idle link leaves pcap_dispatch waiting for a block that never fills, so wake it. */
static void on_alarm(int sig) {
  (void)sig;
  counters_due = 1;
  if (handle) pcap_breakloop(handle);
}

static void on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes) {
  captured++;
  pcap_dump(user, h, bytes);
}

static void usage(void) {
  fprintf(stderr, "usage: weir-capture -i IFACE [-Z USER] [-s SNAPLEN] [-B BUFFER_KIB] [-t TIMEOUT_MS] "
                  "[-S SECONDS] [-I] [-X WHAT] [--] [BPF expression]\n");
  exit(2);
}

/* Die with the parent: armed at start and again after the credential change, which clears it. */
static void follow_parent(void) {
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() == 1) exit(1);
}

/* The process's capability sets (permitted, effective) as 64-bit masks; -1 when they cannot be read. */
static int read_caps(unsigned long long *permitted, unsigned long long *effective) {
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  if (syscall(SYS_capget, &hdr, data) != 0) return -1;
  *permitted = data[0].permitted | (unsigned long long)data[1].permitted << 32;
  *effective = data[0].effective | (unsigned long long)data[1].effective << 32;
  return 0;
}

/*
 * After the interface is open and filtered, nothing more needs privilege (reading the ring, pcap_stats and
 * closing do not). Root becomes `pw` with no supplementary groups; any uid loses every capability (ambient,
 * permitted, effective, inheritable) and may gain none by exec. Then it is checked; a failure is an error,
 * never a capture with privileges kept.
 */
static int drop_privileges(uid_t to_uid, gid_t to_gid, const char *to_name) {
  int was_root = geteuid() == 0 || getuid() == 0;
  if (was_root) {
    /* Nothing this process runs later may regain a dropped capability through the bounding set. */
    for (int c = 0; c <= 63; c++) prctl(PR_CAPBSET_DROP, c, 0, 0, 0);
    if (setgroups(0, NULL) != 0 || setgid(to_gid) != 0 || setuid(to_uid) != 0) {
      fprintf(stderr, "weir-capture: cannot switch to user %s: %s; not capturing\n", to_name, strerror(errno));
      return -1;
    }
  }
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct none[2];
  memset(none, 0, sizeof none);
  if (syscall(SYS_capset, &hdr, none) != 0) {
    fprintf(stderr, "weir-capture: cannot drop capabilities: %s; not capturing\n", strerror(errno));
    return -1;
  }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    fprintf(stderr, "weir-capture: cannot set no_new_privs: %s; not capturing\n", strerror(errno));
    return -1;
  }
  /* Verify, as tcpdump's -Z does not: root must be gone for good, and no capability left. */
  unsigned long long prm = 1, eff = 1;
  int regained = setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0;
  if (getuid() == 0 || geteuid() == 0 || getgid() == 0 || getegid() == 0 || regained ||
      read_caps(&prm, &eff) != 0 || prm != 0 || eff != 0 ||
      (was_root && (getuid() != to_uid || getgid() != to_gid))) {
    fprintf(stderr, "weir-capture: privileges not dropped (uid %u, gid %u, capabilities %llx); not capturing\n",
            (unsigned)geteuid(), (unsigned)getegid(), eff | prm);
    return -1;
  }
  follow_parent();
  return 0;
}

/*
 * Once capturing, the helper needs only a few system calls: waiting on and reading the ring (poll, the eventfd
 * pcap_breakloop writes), writing the pcap stream and its lines (stdout, stderr), the kernel's counters (a
 * getsockopt, and pread of the sysfs files opened before), the timer's signal, and closing at the end. Anything
 * else (opening a file, a socket, exec, ptrace, mprotect to executable, writing to the packet socket) kills it
 * at once (SIGSYS): parsing hostile traffic through libpcap must not give its uid's file access to an exploit.
 * The list was measured with strace on Debian 12 (x86_64, glibc 2.36, libpcap 1.10.3).
 */
#ifdef WEIR_SECCOMP
static int confine(void) {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
  if (!ctx) return -1;
  int sock = pcap_fileno(handle), rc = 0;
  /*
   * 32-bit builds return from signal handlers through sigreturn and have mmap2 and the *_time64 calls; uname is
   * what libpcap calls before it reports a corrupted ring frame (so that ends as libpcap's error, not SIGSYS).
   */
  const int anywhere[] = {SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(ppoll_time64), SCMP_SYS(read),
                          SCMP_SYS(pread64), SCMP_SYS(close), SCMP_SYS(munmap), SCMP_SYS(madvise), SCMP_SYS(brk),
                          SCMP_SYS(rt_sigreturn), SCMP_SYS(sigreturn), SCMP_SYS(rt_sigprocmask),
                          SCMP_SYS(restart_syscall), SCMP_SYS(clock_gettime), SCMP_SYS(clock_gettime64),
                          SCMP_SYS(gettimeofday), SCMP_SYS(uname), SCMP_SYS(exit), SCMP_SYS(exit_group)};
  /* A call this architecture lacks (poll on arm64: ppoll only) has a negative pseudo-number: nothing to allow. */
  for (size_t i = 0; i < sizeof anywhere / sizeof anywhere[0]; i++)
    if (anywhere[i] >= 0) rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, anywhere[i], 0);
  /*
   * Writes to the descriptors open now (stdout, stderr, libpcap's breakloop eventfd, ...), each by its exact
   * number, never the packet socket (which would put frames on the monitored network). Named one by one, not
   * "not the socket": the filter compares all 64 bits of the argument while the kernel reads only the low 32,
   * so the socket's number with high bits set would pass a not-equal rule and still reach the socket.
   */
  DIR *fds = opendir("/proc/self/fd");
  if (!fds) rc = -1;
  for (struct dirent *e; fds && (e = readdir(fds)) != NULL;) {
    char *end;
    long fd = strtol(e->d_name, &end, 10);
    if (*end != '\0' || e->d_name[0] == '\0' || fd == sock || fd == dirfd(fds)) continue;
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(write), 1, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)fd));
  }
  if (fds) closedir(fds);
  /*
   * The packet socket's own options only: its counters (PACKET_STATISTICS), and the ring's teardown at close
   * (PACKET_RX_RING); nothing that would add a TX ring, a fanout group or a membership. When its interface goes
   * away or down, libpcap reads the socket's error and address, and polls the interface's flags.
   */
  rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(getsockopt), 3, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)sock),
                         SCMP_A1(SCMP_CMP_EQ, SOL_PACKET), SCMP_A2(SCMP_CMP_EQ, PACKET_STATISTICS));
  rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(getsockopt), 3, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)sock),
                         SCMP_A1(SCMP_CMP_EQ, SOL_SOCKET), SCMP_A2(SCMP_CMP_EQ, SO_ERROR));
  rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(setsockopt), 3, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)sock),
                         SCMP_A1(SCMP_CMP_EQ, SOL_PACKET), SCMP_A2(SCMP_CMP_EQ, PACKET_RX_RING));
  rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(getsockname), 1, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)sock));
  rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 2, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)sock),
                         SCMP_A1(SCMP_CMP_EQ, SIOCGIFFLAGS));
  /* Memory for stdio, never executable. */
  rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
  if (rc == 0) rc = seccomp_load(ctx);
  seccomp_release(ctx);
  return rc == 0 ? 0 : -1;
}
#endif

/* -X WHAT (tests only): what an exploit in the helper would try; each must be refused by death. */
static void try_forbidden(const char *what) {
  int sock = pcap_fileno(handle);
  if (strcmp(what, "open") == 0) close(open("/etc/hostname", O_RDONLY));
  if (strcmp(what, "write-socket") == 0) {
    static const unsigned char frame[60] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    /* 1 << 32 where long is 64-bit (on 32-bit builds the test makes no sense: 0, a plain refused write) */
    syscall(SYS_write, (unsigned long)sock | (((unsigned long)1 << 31) << 1), frame, sizeof frame);
  }
  if (strcmp(what, "fanout") == 0) {
    int fanout = 4242 | (PACKET_FANOUT_HASH << 16);
    setsockopt(sock, SOL_PACKET, PACKET_FANOUT, &fanout, sizeof fanout);
  }
}

static void print_counters(const char *prefix, const struct totals *t) {
  fprintf(stderr, "weir-capture: %s captured=%llu received=%llu dropped=%llu ifdropped=%llu\n", prefix, captured,
          t->recv, t->drop, t->ifdrop);
}

/* Tests the wrap arithmetic: `--self-test-wrap A B ...` feeds the readings in turn and prints the total. */
static int self_test_wrap(int argc, char **argv) {
  unsigned long long total = 0;
  unsigned int last = 0;
  for (int i = 2; i < argc; i++) accumulate(&total, &last, (unsigned int)number(argv[i], 0, 4294967295L, "reading"));
  printf("%llu\n", total);
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "--self-test-wrap") == 0) return self_test_wrap(argc, argv);
  if (argc == 2 && strcmp(argv[1], "--features") == 0) {
#ifdef WEIR_SECCOMP
    puts("features: seccomp");
#else
    puts("features:");
#endif
    return 0;
  }
  const char *iface = NULL, *user = "weir-capture";
  int snaplen = 262144, buffer_kib = 32768, timeout_ms = 100, immediate = 0, stats_s = 0, opt;
  const char *forbidden = NULL;
  while ((opt = getopt(argc, argv, "+i:Z:s:B:t:S:IX:")) != -1) {
    switch (opt) {
    case 'i': iface = optarg; break;
    case 'Z': user = optarg; break;
    case 'S': stats_s = (int)number(optarg, 0, 3600, "-S (seconds)"); break;
    case 's': snaplen = (int)number(optarg, 0, 262144, "-s (snap length)"); break;
    case 'B': buffer_kib = (int)number(optarg, 1, 4194304, "-B (buffer KiB)"); break;
    case 't': timeout_ms = (int)number(optarg, 1, 60000, "-t (timeout ms)"); break;
    case 'I': immediate = 1; break;
    case 'X':
      if (strcmp(optarg, "open") != 0 && strcmp(optarg, "write-socket") != 0 && strcmp(optarg, "fanout") != 0)
        usage();
      forbidden = optarg;
      break;
    default: usage();
    }
  }
  if (!iface) usage();
  if (snaplen == 0) snaplen = 262144; /* 0 means whole frames, as for tcpdump -s 0 */

  /* Weir stopping without a word (SIGKILL) must not leave a capture running behind it. */
  parent = getppid();
  follow_parent();

  /*
   * The user to become, looked up before the interface is opened (a wrong name captures nothing), and only
   * when there is root to give up: a non-root Weir (the Debian units: weir with ambient capabilities) keeps
   * its own user and needs no account. Copied at once: getpwnam's buffer is static, and libpcap may reuse it.
   */
  uid_t to_uid = 0;
  gid_t to_gid = 0;
  char to_name[256] = "";
  if (getuid() == 0 || geteuid() == 0) {
    errno = 0;
    struct passwd *pw = getpwnam(user);
    if (!pw || pw->pw_uid == 0 || pw->pw_gid == 0) {
      if (pw)
        fprintf(stderr, "weir-capture: root is no user \"%s\" to run as (capture.user); not capturing\n", user);
      else
        fprintf(stderr,
                "weir-capture: no such user \"%s\" to run as (capture.user); not capturing (create it: "
                "adduser --system --group --no-create-home --home /nonexistent --shell /usr/sbin/nologin %s, "
                "as scripts/install-deps.sh and the Debian package do)\n",
                user, user);
      return 1;
    }
    to_uid = pw->pw_uid;
    to_gid = pw->pw_gid;
    snprintf(to_name, sizeof to_name, "%s", pw->pw_name);
  }

  /* The filter: the remaining words joined, as tcpdump joins its trailing arguments. */
  size_t len = 1;
  for (int i = optind; i < argc; i++) len += strlen(argv[i]) + 1;
  char *filter = calloc(len, 1);
  if (!filter) return 1;
  for (int i = optind; i < argc; i++) {
    if (i > optind) strcat(filter, " ");
    strcat(filter, argv[i]);
  }

  char err[PCAP_ERRBUF_SIZE] = "";
  handle = pcap_create(iface, err);
  if (!handle) {
    fprintf(stderr, "weir-capture: %s\n", err);
    return 1;
  }
  pcap_set_snaplen(handle, snaplen);
  pcap_set_promisc(handle, 1);
  pcap_set_timeout(handle, timeout_ms);
  pcap_set_buffer_size(handle, buffer_kib * 1024);
  if (immediate) pcap_set_immediate_mode(handle, 1);
  int rc = pcap_activate(handle);
  if (rc < 0) {
    fprintf(stderr, "weir-capture: %s: %s\n", iface, pcap_geterr(handle));
    return 1;
  }
  if (rc > 0) fprintf(stderr, "weir-capture: %s: warning: %s\n", iface, pcap_geterr(handle));
  if (filter[0]) {
    struct bpf_program prog;
    if (pcap_compile(handle, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) < 0 || pcap_setfilter(handle, &prog) < 0) {
      fprintf(stderr, "weir-capture: filter \"%s\": %s\n", filter, pcap_geterr(handle));
      return 1;
    }
    pcap_freecode(&prog);
  }
  if (drop_privileges(to_uid, to_gid, to_name) != 0) return 1;

  /* stdout fully buffered with room for a large batch: a batch goes out in one or a few write(2) calls. */
  static char outbuf[1 << 20];
  setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
  pcap_dumper_t *dumper = pcap_dump_fopen(handle, stdout);
  if (!dumper) {
    fprintf(stderr, "weir-capture: %s\n", pcap_geterr(handle));
    return 1;
  }
  if (pcap_dump_flush(dumper) < 0) return 1; /* the file header, so the reader knows the link type now */

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_signal; /* no SA_RESTART: a blocked poll returns */
  sa.sa_flags = SA_SIGINFO;    /* who sent it */
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  signal(SIGPIPE, SIG_IGN); /* a closed pipe shows as a failed flush, then we stop */
  fprintf(stderr, "weir-capture: listening on %s, link-type %s, timeout %d ms, as uid %u gid %u%s\n", iface,
          pcap_datalink_val_to_name(pcap_datalink(handle)) ? pcap_datalink_val_to_name(pcap_datalink(handle))
                                                           : "?",
          timeout_ms, (unsigned)getuid(), (unsigned)getgid(),
#ifdef WEIR_SECCOMP
          ", confined to its system calls"
#else
          ""
#endif
  );

  /*
   * The timer: counters printed every stats_s (so the dashboard shows kernel drops as they happen, and a
   * silence shows a stalled helper), and the kernel counters read at least every STATS_EVERY_S regardless.
   */
  int tick_s = stats_s == 0 ? STATS_EVERY_S : stats_s <= STATS_EVERY_S ? stats_s : 1;
  int ticks_per_print = stats_s / tick_s, ticks = 0; /* exactly every stats_s; 0: never */
  struct sigaction alarm_sa;
  memset(&alarm_sa, 0, sizeof alarm_sa);
  alarm_sa.sa_handler = on_alarm;
  alarm_sa.sa_flags = SA_RESTART; /* a write to a full pipe resumes; poll wakes anyway (and through breakloop) */
  sigaction(SIGALRM, &alarm_sa, NULL);
  struct itimerval every = {{tick_s, 0}, {tick_s, 0}};
  setitimer(ITIMER_REAL, &every, NULL);

  open_sysfs_drops(iface);
#ifdef WEIR_SECCOMP
  if (confine() != 0) {
    fprintf(stderr, "weir-capture: cannot confine its system calls (seccomp); not capturing\n");
    return 1;
  }
#endif

  struct totals totals;
  memset(&totals, 0, sizeof totals);
  int status = 0;
  while (!stopping) {
    unsigned long long before = captured;
    int n = pcap_dispatch(handle, -1, on_packet, (u_char *)dumper);
    /* By what was dumped, not by n: a break (the counters' timer) mid-batch returns no count. */
    if (captured != before && pcap_dump_flush(dumper) < 0) break; /* reader gone */
    if (counters_due) {
      counters_due = 0;
      /* -X (tests only): a system call outside the allow-list, once capturing: it must kill the helper. */
      if (forbidden) try_forbidden(forbidden);
      struct pcap_stat st;
      if (kernel_stats(&st) == 0) {
        add_stats(&totals, &st);
        if (ticks_per_print > 0 && ++ticks >= ticks_per_print) {
          ticks = 0;
          print_counters("counters", &totals);
        }
      }
    }
    if (n == PCAP_ERROR_BREAK && stopping) break;
    if (n == PCAP_ERROR_BREAK) continue; /* the counters' timer, not a stop */
    if (n < 0) {
      fprintf(stderr, "weir-capture: %s: %s\n", iface, pcap_geterr(handle));
      status = 1;
      break;
    }
  }
  pcap_dump_flush(dumper);

  struct pcap_stat st;
  if (foreign_sig) {
    /* Not Weir asking: another process (same uid, or root) stopped the capture. Said, and not a clean end. */
    fprintf(stderr, "weir-capture: stopped by signal %d from pid %d uid %d\n", (int)foreign_sig, (int)foreign_pid,
            (int)foreign_uid);
    status = 3;
  }
  if (kernel_stats(&st) == 0) {
    add_stats(&totals, &st);
    fprintf(stderr, "%llu packets captured\n%llu packets received by filter\n%llu packets dropped by kernel\n",
            captured, totals.recv, totals.drop);
    if (totals.ifdrop) fprintf(stderr, "%llu packets dropped by interface\n", totals.ifdrop);
  }
  pcap_close(handle);
  return status;
}
