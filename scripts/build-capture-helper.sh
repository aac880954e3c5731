#!/usr/bin/env bash
# Compiles Weir's live capture helper (src/capture/weir-capture.c: libpcap, pcap to stdout, one write per
# captured batch instead of tcpdump -U's one per packet) into bin/weir-capture, where src/capture/live.ts looks
# for it. Needs gcc and libpcap-dev (scripts/install-deps.sh installs both). Without them it says so and exits 0:
# Weir then captures through tcpdump, as before. With libseccomp-dev (installed there too) the helper confines
# itself to the system calls capturing needs once it listens; without it, it is built unconfined and says so.
# Runs on the build machine, links libseccomp2 (Debian: part of the base system) at run time.
# Usage: scripts/build-capture-helper.sh [OUT]   (default bin/weir-capture)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bin/weir-capture}
cc=${CC:-gcc}
if ! command -v "$cc" >/dev/null || ! echo '#include <pcap/pcap.h>' | "$cc" -E -x c - >/dev/null 2>&1; then
  echo "build-capture-helper: no $cc or no libpcap headers (libpcap-dev): live capture will use tcpdump" >&2
  exit 0
fi
mkdir -p "$(dirname "$out")"
defs=() libs=()
if echo '#include <seccomp.h>' | "$cc" -E -x c - >/dev/null 2>&1; then
  defs=(-DWEIR_SECCOMP) libs=(-lseccomp)
else
  echo "build-capture-helper: no libseccomp headers (libseccomp-dev): weir-capture is built without its system-call confinement" >&2
fi
"$cc" -O2 -Wall -Wextra -D_FORTIFY_SOURCE=2 -fstack-protector-strong "${defs[@]}" -o "$out.tmp" \
  src/capture/weir-capture.c -lpcap "${libs[@]}"
mv "$out.tmp" "$out"
echo "$out"
