#!/usr/bin/env bash
# The main job on the bundled sample plant: inventory, a baseline learned from the normal first half,
# detection on the rest (an engineering stop, a scan, an intruder writing to a PLC), then a least-privilege
# policy proposed from the baseline and simulated on the second half; then the dashboard over the result.
set -euo pipefail
cd "$(dirname "$0")/.."
db="${WEIR_DEMO_DB:-weir-demo.db}"
rm -f "$db" "$db-wal" "$db-shm" "$db.audit-key" "$db.audit-head"
weir() { node dist/src/cli/main.js "$@"; }
echo "== weir discover fixtures/plant.pcap --db $db"
weir discover fixtures/plant.pcap --db "$db"
echo
echo "== weir learn fixtures/plant.pcap --db $db --until 50%"
weir learn fixtures/plant.pcap --db "$db" --until 50% --note "sample plant, first half reviewed as normal"
echo
echo "== weir detect fixtures/plant.pcap --baseline $db --from 50%"
weir detect fixtures/plant.pcap --baseline "$db" --from 50%

# The detections, correlated into incidents with their ATT&CK for ICS tactics.
echo "== weir incidents list --db $db"
weir incidents list --db "$db"
echo
echo "== weir policy propose --baseline $db --out weir-demo-policy.yaml"
weir policy propose --baseline "$db" --out weir-demo-policy.yaml --site "sample plant"
echo
# The store's first user is its admin (a fresh password each run, printed once below). Recording a simulation
# is evidence for change control, so it is done by a logged-in person: here the admin, password on stdin.
password="$(node -e "console.log(require('node:crypto').randomBytes(12).toString('base64url'))")"
printf '%s\n' "$password" | weir user add admin --role admin security --db "$db" --password-stdin >/dev/null
echo "== weir policy simulate weir-demo-policy.yaml --capture fixtures/plant.pcap --from 50% --baseline $db --db $db --as admin --password-stdin"
printf '%s\n' "$password" | weir policy simulate weir-demo-policy.yaml --capture fixtures/plant.pcap --from 50% --baseline "$db" --db "$db" --html weir-demo-simulation.html --as admin --password-stdin
echo "(HTML report: weir-demo-simulation.html)"
echo
if [ "${WEIR_DEMO_NO_SERVE:-}" = "1" ]; then
  # Nothing serves, so no URL: say how to look at the result instead.
  echo "Store: $db (user: admin, password: $password); see it in the dashboard with: node dist/src/cli/main.js serve --db $db"
  exit 0
fi
port="${WEIR_DEMO_PORT:-8080}"
echo "== weir serve --db $db --port $port"
echo "Dashboard: http://127.0.0.1:$port  (user: admin, password: $password)  — Ctrl-C stops it"
exec node dist/src/cli/main.js serve --db "$db" --port "$port"
