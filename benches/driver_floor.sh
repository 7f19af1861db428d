#!/usr/bin/env bash
# Macro benchmark: what the driver alone costs per target, the floor under `many_targets.sh`'s memory figure.
# Usage: benches/driver_floor.sh [CONNECTIONS] [SETTLE_SECONDS]      (defaults 1000, 30 s)
#        WIRE=1 benches/driver_floor.sh ...   (`query_floor --wire`: the connections over its own few lines of
#                                              protocol code instead of sqlx, the floor under the driver)
#
# Runs the `query_floor` example (kept sqlx connections to a throwaway PostgreSQL 15, one `SELECT 1` each per
# 15 s interval, buffers given back between ticks, nothing decoded or kept) with one connection, then with
# CONNECTIONS, and prints the RSS growth per connection and for all of them: what any exporter holding one
# sqlx connection per target pays before it keeps a single sample.
. "$(dirname "$0")/lib.sh"
N=${1:-1000}; SETTLE=${2:-30}
[ "$N" -ge 2 ] || { echo "$(basename "$0"): CONNECTIONS must be at least 2" >&2; exit 1; }
cargo build --release --example query_floor --manifest-path "$root/Cargo.toml" >&2
scratch driver-floor
throwaway_pg 10 $((N + 100))
dsn="postgresql://postgres@127.0.0.1:$pgport/bench?sslmode=disable"
run() { # connections: starts query_floor, waits until they are all open and SETTLE more, sets `rss` (KB)
  "$root/target/release/examples/query_floor" ${WIRE:+--wire} "$dsn" "SELECT 1" 15000 "$1" >>"$work/floor.log" 2>&1 &
  local pid=$! open=0 i
  pids="$pids $pid"
  for i in $(seq 600); do # at most 5 minutes
    open=$(sql -d bench -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = '' AND usename = 'postgres'
                             AND pid <> pg_backend_pid()")
    [ "$open" -ge "$1" ] && break
    kill -0 "$pid" 2>/dev/null || { echo "query_floor ended: $(tail -1 "$work/floor.log")" >&2; exit 1; }
    sleep 0.5
  done
  [ "$open" -ge "$1" ] || { echo "$(basename "$0"): $open of $1 connections open after 5 minutes" >&2; exit 1; }
  sleep "$SETTLE"
  rss=$(awk '/VmRSS/{print $2}' "/proc/$pid/status")
  kill "$pid"; wait "$pid" 2>/dev/null || true # ended by the kill
  sleep 1
}
run 1; one=$rss
run "$N"; all=$rss
python3 - "$one" "$all" "$N" "${WIRE:-}" <<'PY'
import sys
one, all_, n, wire = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
print(f"{'query_floor' + (' --wire' if wire else '') + ' RSS, 1 connection / ' + str(n) + ', MB':<44} {one / 1024:.1f} / {all_ / 1024:.1f}")
print(f"{'growth for ' + str(n) + ' connections, MB':<44} {(all_ - one) / 1024:.1f}")
print(f"{'per connection, KB':<44} {(all_ - one) / (n - 1):.1f}")
PY
