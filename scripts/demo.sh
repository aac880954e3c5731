#!/usr/bin/env bash
# The main job on the bundled sample plant: inventory, a baseline learned from the normal first half,
# and detection on the rest (an engineering stop, a scan, an intruder writing to a PLC).
set -euo pipefail
cd "$(dirname "$0")/.."
db="${WEIR_DEMO_DB:-weir-demo.db}"
rm -f "$db" "$db-wal" "$db-shm"
weir() { node dist/src/cli/main.js "$@"; }
echo "== weir discover fixtures/plant.pcap --db $db"
weir discover fixtures/plant.pcap --db "$db"
echo
echo "== weir learn fixtures/plant.pcap --db $db --until 50%"
weir learn fixtures/plant.pcap --db "$db" --until 50% --note "sample plant, first half reviewed as normal"
echo
echo "== weir detect fixtures/plant.pcap --baseline $db --from 50%"
weir detect fixtures/plant.pcap --baseline "$db" --from 50%
