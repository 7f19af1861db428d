#!/usr/bin/env bash
# Macro benchmark: the exporter's own CPU per collection of the standard Postgres groups (issue #6, target 4),
# beside postgres_exporter's CPU per scrape with its default collectors, on one throwaway PostgreSQL.
# Usage: benches/collection_cpu.sh [TABLES] [SECONDS]      (defaults 100 tables, 30 s per exporter)
#
# hubble runs every standard group each second with nobody scraping (one scrape at the end); postgres_exporter
# runs its collectors on each scrape, so it is scraped once a second. CPU is utime+stime from /proc.
set -euo pipefail
command -v prometheus-postgres-exporter >/dev/null || { echo "$(basename "$0"): needs prometheus-postgres-exporter (apt-get install prometheus-postgres-exporter)" >&2; exit 1; }
command -v curl >/dev/null || { echo "$(basename "$0"): needs curl (apt-get install curl)" >&2; exit 1; }
root=$(cd "$(dirname "$0")/.." && pwd)
bench=${BENCH_DIR:-$root/../shared/bench}
TABLES=${1:-100}; SECS=${2:-30}
cargo build --release --example postgres_exporter --manifest-path "$root/Cargo.toml" >&2
bin=$root/target/release/examples/postgres_exporter
work=$(mktemp -d /tmp/hubble-cpu.XXXXXX); chmod 755 "$work"
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
pgport=$(free_port)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; sleep 0.5; "$bench/pg.sh" stop "$work/pg"; rm -rf "$work"; }
trap cleanup EXIT
"$bench/pg.sh" start "$work/pg" "$pgport" "$TABLES" >&2
dsn="postgresql://postgres@127.0.0.1:$pgport/bench?sslmode=disable"
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

measure() { # name scrape_each_second(0/1) command...
  local name=$1 scrape=$2; shift 2
  local port; port=$(free_port)
  "$@" "127.0.0.1:$port" >>"$work/exporters.log" 2>&1 &
  pid=$!
  local url=http://127.0.0.1:$port/metrics
  for _ in $(seq 100); do curl -fsS -o /dev/null "$url" 2>/dev/null && break; sleep 0.2; done
  sleep 3
  local c0; c0=$(ticks "$pid")
  for _ in $(seq "$SECS"); do
    [ "$scrape" = 1 ] && curl -fsS -o /dev/null "$url"
    sleep 1
  done
  local c1; c1=$(ticks "$pid")
  local series; series=$(curl -fsS "$url" | grep -vc '^#')
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
  python3 -c "print(f'{\"$name\":<44} {$series:>7} {($c1-$c0)*1000/$hz/$SECS:>10.2f}')"
}

printf '%-44s %7s %10s\n' exporter series "CPU ms per collection"
measure "hubble (standard groups, 1 s interval)" 0 \
  "$bin" --dsn "$dsn" --collection.interval 1s --log.level warn --web.listen-address
measure "postgres_exporter (default collectors, 1 scrape/s)" 1 \
  env DATA_SOURCE_NAME="$dsn" prometheus-postgres-exporter --web.listen-address
