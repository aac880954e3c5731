#!/usr/bin/env bash
# The main job on the bundled sample plant: inventory, a baseline learned from the normal first half,
# detection on the rest (an engineering stop, a scan, an intruder writing to a PLC), then a least-privilege
# policy proposed from the baseline and simulated on the second half.
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
echo
echo "== weir policy propose --baseline $db --out weir-demo-policy.yaml"
weir policy propose --baseline "$db" --out weir-demo-policy.yaml --site "sample plant"
echo
echo "== weir policy simulate weir-demo-policy.yaml --capture fixtures/plant.pcap --from 50% --baseline $db"
weir policy simulate weir-demo-policy.yaml --capture fixtures/plant.pcap --from 50% --baseline "$db" --db "$db" --html weir-demo-simulation.html --as demo
echo "(HTML report: weir-demo-simulation.html)"
