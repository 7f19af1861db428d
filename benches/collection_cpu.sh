#!/usr/bin/env bash
# Macro benchmark: the exporter's own CPU per collection of the standard Postgres groups (issue #6, target 4),
# beside postgres_exporter's CPU per scrape with its default collectors, on one throwaway PostgreSQL.
# Usage: benches/collection_cpu.sh [TABLES] [SECONDS]      (defaults 100 tables, 30 s)
#
# hubble runs every standard group each second with nobody scraping (one scrape at the end); postgres_exporter
# runs its collectors on each scrape, so it is scraped once a second. Both run at once, over the same window.
# CPU is utime+stime from /proc.
set -euo pipefail
command -v prometheus-postgres-exporter >/dev/null || { echo "$(basename "$0"): needs prometheus-postgres-exporter (apt-get install prometheus-postgres-exporter)" >&2; exit 1; }
command -v curl >/dev/null || { echo "$(basename "$0"): needs curl (apt-get install curl)" >&2; exit 1; }
root=$(cd "$(dirname "$0")/.." && pwd)
bench=${BENCH_DIR:-$root/../shared/bench}
TABLES=${1:-100}; SECS=${2:-30}
cargo build --release --bin postgres_exporter --manifest-path "$root/Cargo.toml" >&2
bin=$root/target/release/postgres_exporter
work=$(mktemp -d /tmp/hubble-cpu.XXXXXX); chmod 755 "$work"
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
pgport=$(free_port)
pid=
cleanup() { [ -n "$pid" ] && kill $pid 2>/dev/null; sleep 0.5; "$bench/pg.sh" stop "$work/pg"; rm -rf "$work"; }
trap cleanup EXIT
"$bench/pg.sh" start "$work/pg" "$pgport" "$TABLES" >&2
dsn="postgresql://postgres@127.0.0.1:$pgport/bench?sslmode=disable"
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

start() { # port command... : starts an exporter listening on the port, prints its pid
  local port=$1; shift
  "$@" "127.0.0.1:$port" >>"$work/exporters.log" 2>&1 &
  echo $!
}
ready() { for _ in $(seq 100); do curl -fsS -o /dev/null "$1" 2>/dev/null && return; sleep 0.2; done; echo "no answer from $1" >&2; exit 1; }

# Both run at once over the same window, so a busy machine weighs on both alike; compare the ratio.
hport=$(free_port); pport=$(free_port)
hpid=$(start "$hport" "$bin" --dsn "$dsn" --collection.interval 1s --log.level warn --web.listen-address)
ppid=$(start "$pport" env DATA_SOURCE_NAME="$dsn" prometheus-postgres-exporter --web.listen-address)
pid="$hpid $ppid"
ready "http://127.0.0.1:$hport/metrics"; ready "http://127.0.0.1:$pport/metrics"
sleep 3
h0=$(ticks "$hpid"); p0=$(ticks "$ppid")
for _ in $(seq "$SECS"); do
  curl -fsS -o /dev/null "http://127.0.0.1:$pport/metrics"
  sleep 1
done
h1=$(ticks "$hpid"); p1=$(ticks "$ppid")
hs=$(curl -fsS "http://127.0.0.1:$hport/metrics" | grep -vc '^#'); ps_=$(curl -fsS "http://127.0.0.1:$pport/metrics" | grep -vc '^#')
python3 - "$hs" "$ps_" "$h0" "$h1" "$p0" "$p1" "$hz" "$SECS" <<'PY'
import sys
hs, ps, h0, h1, p0, p1, hz, secs = sys.argv[1:]
h = (int(h1) - int(h0)) * 1000 / int(hz) / int(secs)
p = (int(p1) - int(p0)) * 1000 / int(hz) / int(secs)
print(f"{'exporter':<52} {'series':>7} {'CPU ms per collection':>22}")
print(f"{'hubble (standard groups, 1 s interval)':<52} {hs:>7} {h:>22.2f}")
print(f"{'postgres_exporter (default collectors, 1 scrape/s)':<52} {ps:>7} {p:>22.2f}")
print(f"hubble / postgres_exporter: {h / p:.2f}" if p else "postgres_exporter used no measurable CPU")
PY
