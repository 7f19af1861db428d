#!/usr/bin/env bash
# Round trips per collection: how many messages the Postgres exporter sends one PostgreSQL per collection of
# the standard groups, beside how many statements they hold. Messages are counted in the server's log
# (log_statement=all logs one entry per simple-query message and per executed prepared statement), statements
# in pg_stat_statements.
# Usage: benches/round_trips.sh [TABLES] [SECONDS] [hubble flags...]     (defaults 100 tables, 60 s)
set -euo pipefail
command -v curl >/dev/null || { echo "$(basename "$0"): needs curl (apt-get install curl)" >&2; exit 1; }
root=$(cd "$(dirname "$0")/.." && pwd)
bench=${BENCH_DIR:-$root/../shared/bench}
TABLES=${1:-100}; SECS=${2:-60}; shift $(( $# < 2 ? $# : 2 ))
cargo build --release --bin postgres_exporter --manifest-path "$root/Cargo.toml" >&2
bin=$root/target/release/postgres_exporter
work=$(mktemp -d /tmp/hubble-trips.XXXXXX); chmod 755 "$work"
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
pgport=$(free_port); port=$(free_port)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; sleep 0.5; "$bench/pg.sh" stop "$work/pg"; rm -rf "$work"; }
trap cleanup EXIT
"$bench/pg.sh" start "$work/pg" "$pgport" "$TABLES" >&2
sql() { psql -h 127.0.0.1 -p "$pgport" -U postgres -X -qAt -d bench -c "$1"; }
sql "ALTER SYSTEM SET log_statement = 'all'" >/dev/null
sql "ALTER SYSTEM SET log_line_prefix = '%a|'" >/dev/null
sql "SELECT pg_reload_conf()" >/dev/null
"$bin" --dsn "postgresql://postgres@127.0.0.1:$pgport/bench?sslmode=disable" --collection.interval 1s \
  --log.level warn --web.listen-address "127.0.0.1:$port" "$@" >"$work/exporter.log" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -fsS -o /dev/null "http://127.0.0.1:$port/metrics" 2>/dev/null && break; sleep 0.2; done
sleep 3
log=$work/pg/log
messages() { grep -c '^hubble_postgres_exporter|LOG:  \(statement\|execute\)' "$log" || true; }
m0=$(messages); sql "SELECT pg_stat_statements_reset()" >/dev/null
sleep "$SECS"
m1=$(messages)
statements=$(sql "SELECT COALESCE(sum(calls), 0) FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat_statements_reset%'")
python3 - "$m0" "$m1" "$statements" "$SECS" <<'PY'
import sys
m0, m1, statements, secs = (int(x) for x in sys.argv[1:])
print(f"messages per second (round trips): {(m1 - m0) / secs:.1f}")
print(f"statements per second:             {statements / secs:.1f}")
PY
