#!/usr/bin/env bash
# Round trips per collection: how many messages the Postgres exporter sends one PostgreSQL per collection of
# the standard groups, beside how many statements they hold. Messages are counted in the server's log
# (log_statement=all logs one entry per simple-query message and per executed prepared statement), statements
# in pg_stat_statements.
# Usage: benches/round_trips.sh [TABLES] [SECONDS] [hubble flags...]     (defaults 100 tables, 60 s)
. "$(dirname "$0")/lib.sh"
needs curl curl
TABLES=${1:-100}; SECS=${2:-60}; shift $(( $# < 2 ? $# : 2 ))
built postgres_exporter
scratch trips
throwaway_pg "$TABLES"
port=$(free_port)
sql -d bench -c "ALTER SYSTEM SET log_statement = 'all'" -c "ALTER SYSTEM SET log_line_prefix = '%a|'" \
  -c "SELECT pg_reload_conf()" >/dev/null
"$bin" --dsn "postgresql://postgres@127.0.0.1:$pgport/bench?sslmode=disable" --collection.interval 1s \
  --log.level warn --web.listen-address "127.0.0.1:$port" "$@" >"$work/exporter.log" 2>&1 &
pids=$!
ready "http://127.0.0.1:$port/metrics"
sleep 3
log=$work/pg/log
messages() { grep -c '^hubble_postgres_exporter|LOG:  \(statement\|execute\)' "$log" || true; }
m0=$(messages); sql -d bench -c "SELECT pg_stat_statements_reset()" >/dev/null
sleep "$SECS"
m1=$(messages)
statements=$(sql -d bench -c "SELECT COALESCE(sum(calls), 0) FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat_statements_reset%'")
python3 - "$m0" "$m1" "$statements" "$SECS" <<'PY'
import sys
m0, m1, statements, secs = (int(x) for x in sys.argv[1:])
print(f"messages per second (round trips): {(m1 - m0) / secs:.1f}")
print(f"statements per second:             {statements / secs:.1f}")
PY
