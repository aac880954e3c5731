#!/usr/bin/env bash
# Builds the Debian package of Weir with dpkg-deb, from the built tree (run `npm run build` first):
#   /usr/lib/weir            dist (CLI, server, dashboard), data, production node_modules only
#   /usr/bin/weir            the CLI on PATH (/usr/lib/weir/bin/weir: node /usr/lib/weir/dist/src/cli/main.js)
#   /lib/systemd/system      weir-serve.service, weir-gateway.service
#   /etc/weir/weir.yaml      settings (conffile, from weir.example.yaml); /etc/default/weir (conffile)
#   /var/lib/weir            the store's folder, 0700 weir:weir (made by postinst)
# Usage: scripts/build-deb.sh [OUT_DIR]   (default dist/deb); prints the .deb's path.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=${1:-dist/deb}

[ -f dist/src/cli/main.js ] && [ -f dist/web/index.html ] || {
  echo "build-deb: no built tree (dist/src, dist/web): run npm run build first" >&2
  exit 1
}
version=$(node -p 'require("./package.json").version')
arch=$(dpkg --print-architecture) # better-sqlite3's addon is built for this machine
UNITS=(weir-serve.service weir-gateway.service)

stage=$(mktemp -d "${TMPDIR:-/tmp}/weir-deb.XXXXXX")
trap 'rm -rf "$stage"' EXIT
lib=$stage/usr/lib/weir

install -d "$lib/dist" "$lib/data" "$lib/bin" "$stage/DEBIAN" "$stage/usr/bin" "$stage/lib/systemd/system" \
  "$stage/usr/lib/tmpfiles.d" "$stage/etc/weir" "$stage/etc/default" "$stage/usr/share/doc/weir/examples"
cp -a dist/src dist/web "$lib/dist/"
find "$lib/dist" -name '*.map' -delete
cp -a data/oui.tsv.gz "$lib/data/"
node -e '
  const p = require("./package.json");
  const keep = { name: p.name, version: p.version, description: p.description, type: p.type, license: p.license,
    engines: p.engines, bin: p.bin, dependencies: p.dependencies };
  process.stdout.write(JSON.stringify(keep, null, 2) + "\n");' >"$lib/package.json"

# Production node_modules: the runtime dependency closure, resolved as Node does (no dev tools, no network).
# A nested package comes with its parent; build leftovers of the native addon stay behind.
node scripts/prod-modules.mjs "$root" | grep -v 'node_modules/.*/node_modules/' >"$stage/modules.txt"
install -d "$lib/node_modules"
tar -C "$root" -cf - --dereference \
  --exclude='*/better-sqlite3/deps' --exclude='*/better-sqlite3/src' \
  --exclude='*/build/Release/obj*' --exclude='*/build/Release/*.a' --exclude='*/build/Release/test_extension.node' \
  --exclude='*/build/deps' --exclude='*.map' -T "$stage/modules.txt" | tar -C "$lib" -xf -
rm "$stage/modules.txt"
[ -f "$lib/node_modules/better-sqlite3/build/Release/better_sqlite3.node" ] || {
  echo "build-deb: better-sqlite3's native addon is missing" >&2
  exit 1
}

install -m 0755 packaging/debian/weir "$stage/usr/bin/weir"
install -m 0755 bin/weir "$lib/bin/weir"
# The live capture helper, built here for this machine (libpcap0.8 comes with tcpdump; the units' ambient
# CAP_NET_RAW reaches it as it reaches tcpdump): without gcc and libpcap-dev the package captures through tcpdump.
# With libseccomp-dev it confines its system calls once listening (it links libseccomp2, a Depends below).
# The units run Weir as weir, not root: the helper keeps that user and drops the capabilities once the interface
# is open. No file capabilities on it, on purpose: executing a file that has them clears the ambient set the
# units hand down (and NoNewPrivileges=yes ignores them), and they would let any local user open a capture.
scripts/build-capture-helper.sh "$lib/bin/weir-capture" >/dev/null
for u in "${UNITS[@]}"; do install -m 0644 "packaging/systemd/$u" "$stage/lib/systemd/system/$u"; done
install -m 0644 packaging/tmpfiles/weir.conf "$stage/usr/lib/tmpfiles.d/weir.conf"
install -m 0644 weir.example.yaml "$stage/etc/weir/weir.yaml"
install -m 0644 packaging/default/weir "$stage/etc/default/weir"
install -m 0644 README.md "$stage/usr/share/doc/weir/README.md"
install -m 0644 packaging/journald/journald-weir.conf "$stage/usr/share/doc/weir/examples/journald-weir.conf"
install -m 0644 packaging/systemd/README.md "$stage/usr/share/doc/weir/systemd-units.md"
cat >"$stage/usr/share/doc/weir/copyright" <<'COPY'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: weir

Files: *
License: Apache-2.0
 On Debian systems the full text is in /usr/share/common-licenses/Apache-2.0.
 The bundled node_modules carry their own licenses in their folders under /usr/lib/weir/node_modules.
COPY

for s in postinst prerm postrm; do install -m 0755 "packaging/debian/$s" "$stage/DEBIAN/$s"; done
printf '/etc/weir/weir.yaml\n/etc/default/weir\n' >"$stage/DEBIAN/conffiles"
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
cat >"$stage/DEBIAN/control" <<CONTROL
Package: weir
Version: $version
Architecture: $arch
Maintainer: Weir maintainers <weir@localhost>
Installed-Size: $size
Depends: nodejs (>= 20), adduser, nftables, tcpdump, iproute2, libseccomp2
Recommends: iputils-arping | arping
Suggests: nats-server, systemd-timesyncd | chrony
Section: net
Priority: optional
Description: OT security platform: passive discovery, assessment and safe protection
 Weir discovers the assets and conversations of an industrial control network from
 a SPAN port, assesses their risk and protects them with nftables and a protocol-aware
 gateway that fails open. Runs as the systemd services weir-serve and weir-gateway.
CONTROL

mkdir -p "$out"
deb="$out/weir_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zgzip -z6 --build "$stage" "$deb" >/dev/null
echo "$deb"
