#!/usr/bin/env bash
# What TLS costs on the connection path (issue #30): the Postgres exporter with --auto-discover-databases opens
# a connection to every database every round, so it pays a connection setup (and a TLS handshake) per database
# per round. Runs it twice on one throwaway PostgreSQL with ssl=on (a self-signed certificate made here with
# openssl) and DATABASES databases: sslmode=disable, then sslmode=require. Reports the round's duration and the
# exporter's CPU per database per round (utime+stime from /proc).
# Usage: benches/tls_connect.sh [DATABASES] [SECONDS]      (defaults 100 databases, 40 s per mode)
. "$(dirname "$0")/lib.sh"
needs "curl openssl" curl openssl
N=${1:-100}; SECS=${2:-40}
built postgres_exporter
scratch tls
throwaway_pg 5
data=$work/pg/data
openssl req -x509 -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -days 2 -subj /CN=localhost \
  -keyout "$data/server.key" -out "$data/server.crt" 2>/dev/null
chown postgres "$data/server.key" "$data/server.crt"; chmod 600 "$data/server.key"
sql -d postgres -c "ALTER SYSTEM SET ssl = on" -c "SELECT pg_reload_conf()" >/dev/null
sleep 1
[ "$(sql -d postgres -c 'SHOW ssl')" = on ] || { echo "ssl did not turn on" >&2; exit 1; }
for i in $(seq "$N"); do echo "CREATE DATABASE db$i TEMPLATE bench;"; done | sql -d postgres >&2
printf '%-10s %9s %8s %16s %10s\n' sslmode databases 'round s' 'CPU ms/db/round' encrypted
for mode in disable require; do
  port=$(free_port)
  "$bin" --dsn "postgresql://postgres@127.0.0.1:$pgport/postgres?sslmode=$mode" --auto-discover-databases \
    --collection.interval 5s --log.level warn --web.listen-address "127.0.0.1:$port" >>"$work/hubble.log" 2>&1 &
  hpid=$!; pids=$hpid
  url="http://127.0.0.1:$port/metrics"
  ready "$url"
  sleep 10
  t0=$(ticks "$hpid"); sleep "$SECS"; t1=$(ticks "$hpid")
  body=$(curl -fsS "$url")
  round=$(grep '^hubble_collector_duration_seconds{.*collector="pg_database_local"' <<<"$body" | awk '{print $2}' || true)
  dbs=$(grep -c '^pg_exporter_database_up{.*} 1$' <<<"$body" || true)
  tls=$(grep '^hubble_target_tls{' <<<"$body" | awk '{print $2}' || true)
  cpu=$(python3 -c "print(f'{($t1 - $t0) * 1000 / $hz / ($SECS / 5) / max($dbs, 1):.3f}')")
  printf '%-10s %9s %8.2f %16s %10s\n' "$mode" "$dbs" "${round:-0}" "$cpu" "${tls:-?}"
  kill "$hpid"; wait "$hpid" 2>/dev/null || true; pids=
done
