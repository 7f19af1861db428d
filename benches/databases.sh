#!/usr/bin/env bash
# Macro benchmark: every database of one server (issue #16). hubble with --auto-discover-databases beside
# Debian's postgres_exporter 0.11.1 with its --auto-discover-databases and its example queries.yaml (the
# per-table groups), at once, on one throwaway PostgreSQL holding DATABASES databases of 5 tables each.
# Usage: benches/databases.sh [DATABASES] [SECONDS]      (defaults 200 databases, 60 s)
#
# Both collect every 5 s: hubble on its own schedule (--collection.interval 5s, scraped at the same pace),
# postgres_exporter when scraped (every 5 s). Each connects as its own role, so the server tells their
# backends apart. Reports per exporter: peak backends (sampled every 0.2 s), the time of a round over every
# database (hubble: its database-local collector's duration; postgres_exporter: the scrape's), and CPU per
# database per round (utime+stime from /proc over the window).
. "$(dirname "$0")/lib.sh"
needs "prometheus-postgres-exporter curl" prometheus-postgres-exporter curl
N=${1:-200}; SECS=${2:-60}
built postgres_exporter
scratch dbs
throwaway_pg 5
sql -d postgres -c "CREATE ROLE hubble LOGIN SUPERUSER" -c "CREATE ROLE pe LOGIN SUPERUSER"
for i in $(seq "$N"); do echo "CREATE DATABASE db$i TEMPLATE bench;"; done | sql -d postgres >&2

hport=$(free_port); pport=$(free_port)
"$bin" --dsn "postgresql://hubble@127.0.0.1:$pgport/postgres?sslmode=disable" --auto-discover-databases \
  --collection.interval 5s --log.level warn ${HUBBLE_FLAGS:-} --web.listen-address "127.0.0.1:$hport" >>"$work/hubble.log" 2>&1 &
hpid=$!
# Like for like: the per-table entries of postgres_exporter's own example queries (Debian ships them:
# pg_stat_user_tables, pg_statio_user_tables), which its users run in every database, as hubble's standard
# set does. Only those two: the whole file makes every auto-discovered scrape an HTTP 500 (pg_process_idle
# is collected once per database with the same labels, postgres_exporter issue #753).
queries=$work/queries.yaml
awk '/^pg_stat_user_tables:/ {p = 1} /^pg_stat_statements:/ {p = 0} p' \
  /usr/share/doc/prometheus-postgres-exporter/examples/queries.yaml >"$queries"
DATA_SOURCE_NAME="postgresql://pe@127.0.0.1:$pgport/postgres?sslmode=disable" prometheus-postgres-exporter \
  --auto-discover-databases --extend.query-path "$queries" --web.listen-address "127.0.0.1:$pport" \
  >>"$work/pe.log" 2>&1 &
ppid=$!
pids="$hpid $ppid"
ready "http://127.0.0.1:$hport/metrics"; ready "http://127.0.0.1:$pport/metrics"
# Peak backends of each role, sampled all along.
(
  while :; do
    sql -d postgres -c "SELECT usename, count(*) FROM pg_stat_activity WHERE usename IN ('hubble', 'pe') GROUP BY 1" 2>/dev/null || true
    sleep 0.2
  done
) >"$work/backends" &
pids="$pids $!"
# Warm up: one postgres_exporter scrape (it connects to every database), two hubble rounds.
curl -fsS -o /dev/null "http://127.0.0.1:$pport/metrics"; sleep 10
h0=$(ticks "$hpid"); p0=$(ticks "$ppid")
rounds=$((SECS / 5)); scrape_times=()
for _ in $(seq "$rounds"); do
  t=$(curl -fsS -o /dev/null -w '%{time_total}' "http://127.0.0.1:$pport/metrics")
  scrape_times+=("$t")
  curl -fsS -o "$work/hubble.prom" "http://127.0.0.1:$hport/metrics"
  sleep 5
done
h1=$(ticks "$hpid"); p1=$(ticks "$ppid")
hround=$(grep '^hubble_collector_duration_seconds{.*collector="pg_database_local"' "$work/hubble.prom" | awk '{print $2}')
# Databases visited: hubble's pg_exporter_database_up series; postgres_exporter's distinct `datname` of the
# connections it opened (it keeps one per database).
hdbs=$(grep -c '^pg_exporter_database_up{.*} 1$' "$work/hubble.prom" || true)
pdbs=$(sql -d postgres -c "SELECT count(DISTINCT datname) FROM pg_stat_activity WHERE usename = 'pe'")
python3 - "$N" "$rounds" "$hz" "$h0" "$h1" "$p0" "$p1" "${hround:-0}" "$hdbs" "$pdbs" "$work/backends" "${scrape_times[@]}" <<'PY'
import sys
n, rounds, hz, h0, h1, p0, p1 = map(int, sys.argv[1:8])
hround, hdbs, pdbs, backends = float(sys.argv[8]), int(sys.argv[9]), int(sys.argv[10]), sys.argv[11]
scrapes = sorted(float(t) for t in sys.argv[12:])
peak = {"hubble": 0, "pe": 0}
for line in open(backends):
    if "|" in line:
        user, count = line.strip().split("|")
        peak[user] = max(peak[user], int(count))
hcpu = (h1 - h0) * 1000 / hz / rounds / n
pcpu = (p1 - p0) * 1000 / hz / rounds / n
print(f"{n} databases, {rounds} rounds of 5 s")
print(f"{'exporter':<44} {'databases':>9} {'peak backends':>13} {'round s':>8} {'CPU ms/db/round':>15}")
print(f"{'hubble (--auto-discover-databases)':<44} {hdbs:>9} {peak['hubble']:>13} {hround:>8.2f} {hcpu:>15.3f}")
print(f"{'postgres_exporter 0.11.1 (--auto-discover-databases)':<44} {pdbs:>9} {peak['pe']:>13} {scrapes[len(scrapes)//2]:>8.2f} {pcpu:>15.3f}")
print(f"CPU hubble / postgres_exporter: {hcpu / pcpu:.2f}" if pcpu else "postgres_exporter used no measurable CPU")
PY
