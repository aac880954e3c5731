#!/usr/bin/env bash
# Installs everything Weir needs on a fresh Debian 12 machine with Node 20: system packages (as root, with apt-get)
# and the npm dependencies, then builds. Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  tshark            # dissection oracle in tests, peer in benchmarks
  tcpdump           # live capture (fallback) and lab captures
  gcc               # builds weir-capture, the live capture helper (scripts/build-capture-helper.sh)
  libpcap-dev       # its libpcap headers
  libseccomp-dev    # its system-call confinement once capturing (weir-capture.c confine)
  nftables          # enforcement backend
  iproute2          # network-namespace lab
  python3-pymodbus  # real Modbus/TCP peers in the lab
  python3-serial-asyncio  # pymodbus imports serial even for TCP (only a Recommends of python3-pymodbus)
  ieee-data         # OUI registry used to regenerate the vendor table
  nmap              # scans against the lab in detection tests
  hyperfine         # whole-command timing in benchmarks
  tcpreplay         # replays the benchmark capture at set rates into a lab veth (live capture benchmark)
  netsniff-ng       # trafgen: the live capture benchmark's faster generator (in-memory frames, one sendto or TX_RING)
  chromium          # headless browser for the dashboard tests (driven by playwright-core)
  iputils-arping    # decoys' ARP probe before taking an address (arping -D); ARP spoofing in detection tests
  libnet1           # the library of Habets' arping, unpacked below for the probe test
  rsyslog           # the real syslog receiver of the SIEM export tests and benchmark
  rsyslog-gnutls    # its TLS driver (gtls), for syslog over TLS
  nats-server       # the fleet's transport: hub, site leaf nodes, JetStream (weir manager / weir node)
  openssl           # the fleet's certificate authority (site leaf links are mTLS)
  systemd           # systemd-analyze verify on the units in the package test (PID 1 need not be systemd)
  adduser           # creates the weir-capture user below; the package's postinst creates weir and weir-capture with it
  slapd             # real LDAP directory of the permit tests (started by each test, own config and port)
  ldap-utils        # ldapsearch/ldapadd, to look at that directory by hand
  freeradius        # real RADIUS server of the permit tests (freeradius -X -d <temp config>)
  freeradius-utils  # radclient, to try that RADIUS server by hand
  traceroute        # stealth-mode lab: the bridge must never appear as a hop
  iputils-ping      # stealth-mode lab: TTL crossing the bridge untouched
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: need root to apt-get install: ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Thomas Habets' arping, the other arping Debian ships (package arping), conflicts with iputils-arping, so it is
# unpacked here, not installed: the decoy probe test runs a real probe with each (test/deceive/probe.test.ts).
HABETS_DIR=.deps/habets-arping
if [ ! -x "$HABETS_DIR/usr/sbin/arping" ]; then
  tmp=$(mktemp -d)
  chmod 755 "$tmp" # apt's _apt user writes the download
  if (cd "$tmp" && apt-get download -q arping >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get download -q arping; }); then
    mkdir -p "$HABETS_DIR"
    dpkg-deb -x "$tmp"/arping_*.deb "$HABETS_DIR"
  else
    echo "install-deps: could not download Habets' arping (package arping); its probe test will not run" >&2
  fi
  rm -rf "$tmp"
fi

# The account the live capture runs as once its interface is open (capture.user), when Weir runs as root: a
# system user of its own, no home, no shell, own group. Not the shared `nobody`: any other process running as
# nobody could signal or trace the capture (stop it silently, or freeze it).
if ! getent passwd weir-capture >/dev/null; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: need root to create the weir-capture system user (capture.user)" >&2
    exit 1
  fi
  adduser --system --group --no-create-home --home /nonexistent --shell /usr/sbin/nologin \
    --gecos "Weir live capture" weir-capture >/dev/null
fi

if [ ! -d node_modules ] || [ package.json -nt node_modules/.package-lock.json ]; then
  npm install --no-fund --no-audit
fi
# The node-opcua peers of the OPC UA lab (fixture and gateway lab test), pinned apart from Weir's dependencies.
if [ ! -d scripts/opcua-lab/node_modules/node-opcua ]; then
  (cd scripts/opcua-lab && npm ci --no-fund --no-audit)
fi
npm run build --silent
# npm run build above also built bin/weir-capture (scripts/build-capture-helper.sh), gcc and libpcap-dev being in now.
