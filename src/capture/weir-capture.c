/*
 * weir-capture: Weir's live capture helper. Captures on one interface with libpcap and writes classic pcap to
 * stdout, flushed once per batch that libpcap hands over (one pcap_dispatch: a retired TPACKET_V3 block, or
 * the frames that arrived within the buffer timeout), instead of once per packet as `tcpdump -U` does. A lone
 * frame on an idle link still leaves within the timeout (-t, default 100 ms): detections are never held back
 * waiting for more traffic. At exit it prints libpcap's counters on stderr in tcpdump's wording, so Weir reads
 * them the same way ("N packets captured", "N packets received by filter", "N packets dropped by kernel").
 *
 * Usage: weir-capture -i IFACE [-s SNAPLEN] [-B BUFFER_KIB] [-t TIMEOUT_MS] [-I] [BPF expression ...]
 *   -I  immediate mode: each packet handed over as it arrives (still one write per dispatched batch).
 * Stops on SIGINT/SIGTERM/SIGHUP, when stdout closes (EPIPE), or when its parent dies.
 * Built by scripts/build-capture-helper.sh (gcc, libpcap-dev); Weir falls back to tcpdump without it.
 */
#include <errno.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

static pcap_t *handle;
static volatile sig_atomic_t stopping;
static unsigned long long captured;

static void on_signal(int sig) {
  (void)sig;
  stopping = 1;
  if (handle) pcap_breakloop(handle);
}

static void on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes) {
  captured++;
  pcap_dump(user, h, bytes);
}

static void usage(void) {
  fprintf(stderr,
          "usage: weir-capture -i IFACE [-s SNAPLEN] [-B BUFFER_KIB] [-t TIMEOUT_MS] [-I] [BPF expression]\n");
  exit(2);
}

int main(int argc, char **argv) {
  const char *iface = NULL;
  int snaplen = 262144, buffer_kib = 32768, timeout_ms = 100, immediate = 0, opt;
  while ((opt = getopt(argc, argv, "+i:s:B:t:I")) != -1) {
    switch (opt) {
    case 'i': iface = optarg; break;
    case 's': snaplen = atoi(optarg); break;
    case 'B': buffer_kib = atoi(optarg); break;
    case 't': timeout_ms = atoi(optarg); break;
    case 'I': immediate = 1; break;
    default: usage();
    }
  }
  if (!iface || timeout_ms <= 0 || buffer_kib <= 0) usage();
  if (snaplen <= 0) snaplen = 262144; /* 0 means whole frames, as for tcpdump -s 0 */

  /* Weir stopping without a word (SIGKILL) must not leave a capture running behind it. */
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() == 1) return 1;

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
  sa.sa_handler = on_signal; /* no SA_RESTART: a blocked poll returns */
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  signal(SIGPIPE, SIG_IGN); /* a closed pipe shows as a failed flush, then we stop */
  fprintf(stderr, "weir-capture: listening on %s, link-type %s, timeout %d ms\n", iface,
          pcap_datalink_val_to_name(pcap_datalink(handle)) ? pcap_datalink_val_to_name(pcap_datalink(handle))
                                                           : "?",
          timeout_ms);

  int status = 0;
  while (!stopping) {
    int n = pcap_dispatch(handle, -1, on_packet, (u_char *)dumper);
    if (n > 0 && pcap_dump_flush(dumper) < 0) break; /* reader gone */
    if (n == PCAP_ERROR_BREAK) break;
    if (n < 0) {
      fprintf(stderr, "weir-capture: %s: %s\n", iface, pcap_geterr(handle));
      status = 1;
      break;
    }
  }
  pcap_dump_flush(dumper);

  struct pcap_stat st;
  if (pcap_stats(handle, &st) == 0) {
    fprintf(stderr, "%llu packets captured\n%u packets received by filter\n%u packets dropped by kernel\n",
            captured, st.ps_recv, st.ps_drop);
    if (st.ps_ifdrop) fprintf(stderr, "%u packets dropped by interface\n", st.ps_ifdrop);
  }
  pcap_close(handle);
  return status;
}
