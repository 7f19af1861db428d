#!/usr/bin/env bash
# What the default (no series limit) costs on a large database (issue #31): the Postgres exporter with its
# default flags on one throwaway PostgreSQL holding TABLES tables (each with a primary key, so as many
# indexes, 10 rows each, analyzed) in one database. Reports per-table collectors' series and run times,
# the whole scrape's size and time, and the exporter's resident memory.
# Usage: [HUBBLE_FLAGS=...] benches/many_tables.sh [TABLES] [SECONDS]      (defaults 10000 tables, 60 s)
#
# Tables are created 500 per transaction: one transaction for all would need max_locks_per_transaction raised.
. "$(dirname "$0")/lib.sh"
needs curl curl
N=${1:-10000}; SECS=${2:-60}
built postgres_exporter
scratch tables
throwaway_pg 0
start=$(date +%s)
for ((from = 1; from <= N; from += 500)); do
  to=$((from + 499 < N ? from + 499 : N))
  sql -d bench -c "DO \$\$ BEGIN FOR i IN $from..$to LOOP
    EXECUTE format('CREATE TABLE t%s (id int primary key, v int)', i);
    EXECUTE format('INSERT INTO t%s SELECT g, g FROM generate_series(1, 10) g', i);
  END LOOP; END \$\$"
done
sql -d bench -c "ANALYZE"
echo "created $N tables in $(( $(date +%s) - start )) s" >&2

hport=$(free_port)
"$bin" --dsn "postgresql://postgres@127.0.0.1:$pgport/bench?sslmode=disable" --log.level warn ${HUBBLE_FLAGS:-} \
  --web.listen-address "127.0.0.1:$hport" >>"$work/hubble.log" 2>&1 &
hpid=$!; pids=$hpid
url="http://127.0.0.1:$hport/metrics"
for _ in $(seq 300); do
  c=$(curl -fsS "$url" 2>/dev/null | grep -c '^pg_stat_user_tables_seq_scan{' || true)
  [ "${c:-0}" -ge "$N" ] && break
  sleep 0.5
done
echo "all $N tables exported $(( $(date +%s) - start )) s after the start" >&2
sleep "$SECS"
body=$(curl -fsS "$url")
scrape=$(curl -fsS -o /dev/null -w '%{time_total}' "$url")
rss=$(awk '/VmRSS/ {print $2}' "/proc/$hpid/status")
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$hpid/status")
echo "tables: $N   series in the scrape: $(grep -vc '^#' <<<"$body")   bytes: ${#body}   scrape: ${scrape} s"
for c in pg_stat_user_tables pg_statio_user_tables pg_statio_user_indexes; do
  # pg_statio_user_indexes is off by default, as in postgres_exporter: HUBBLE_FLAGS=--collector.statio_user_indexes
  series=$(grep -c "^${c}_" <<<"$body" || true)
  dur=$(grep "^hubble_collector_duration_seconds{.*collector=\"$c\"" <<<"$body" | awk '{print $2}' || true)
  up=$(grep "^hubble_collector_up{.*collector=\"$c\"" <<<"$body" | awk '{print $2}' || true)
  printf '%-24s series %7s   last run %8s s   up %s\n' "$c" "$series" "${dur:-n/a}" "${up:-n/a}"
done
echo "exporter memory: RSS $((rss / 1024)) MiB, peak $((hwm / 1024)) MiB"
