#!/usr/bin/env bash
# Macro benchmark: the exporter's own CPU per collection of the standard Postgres groups (issue #6, target 4),
# beside postgres_exporter's CPU per scrape with its default collectors, on one throwaway PostgreSQL.
# Usage: benches/collection_cpu.sh [TABLES] [SECONDS]      (defaults 100 tables, 30 s)
#        HUBBLE_ARGS='--no-collector.stat_user_tables' benches/collection_cpu.sh ...   (extra hubble flags)
#
# hubble collects with a 1 s interval with nobody scraping (one scrape at the end), each collector at its own
# interval (the slow ones every minute by default); postgres_exporter runs its collectors on each scrape, so
# it is scraped once a second. Both run at once, over the same window. CPU is utime+stime from /proc: the
# exporters' own, and their PostgreSQL backends' (each exporter connects as a role of its own, so its
# backends are found in pg_stat_activity and its statements in pg_stat_statements).
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
psql -h 127.0.0.1 -p "$pgport" -U postgres -X -q -d bench \
  -c "CREATE ROLE hubble_bench LOGIN SUPERUSER" -c "CREATE ROLE incumbent_bench LOGIN SUPERUSER"
hdsn="postgresql://hubble_bench@127.0.0.1:$pgport/bench?sslmode=disable"
pdsn="postgresql://incumbent_bench@127.0.0.1:$pgport/bench?sslmode=disable"
sql() { psql -h 127.0.0.1 -p "$pgport" -U postgres -X -qAt -d bench -c "$1"; }
# The summed CPU ticks of a role's backends now, and their pids (a backend that ends within the window takes
# its ticks with it: both exporters keep theirs).
backend_ticks() {
  local total=0 p
  for p in $(sql "SELECT pid FROM pg_stat_activity WHERE usename = '$1'"); do
    [ -r "/proc/$p/stat" ] && total=$((total + $(ticks "$p")))
  done
  echo "$total"
}
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
# shellcheck disable=SC2086
hpid=$(start "$hport" "$bin" --dsn "$hdsn" --collection.interval 1s ${HUBBLE_ARGS:-} --log.level warn --web.listen-address)
ppid=$(start "$pport" env DATA_SOURCE_NAME="$pdsn" prometheus-postgres-exporter --web.listen-address)
pid="$hpid $ppid"
ready "http://127.0.0.1:$hport/metrics"; ready "http://127.0.0.1:$pport/metrics"
sleep 3
curl -fsS -o /dev/null "http://127.0.0.1:$pport/metrics"
sql "SELECT pg_stat_statements_reset()" >/dev/null
h0=$(ticks "$hpid"); p0=$(ticks "$ppid")
hb0=$(backend_ticks hubble_bench); pb0=$(backend_ticks incumbent_bench)
for _ in $(seq "$SECS"); do
  curl -fsS -o /dev/null "http://127.0.0.1:$pport/metrics"
  sleep 1
done
h1=$(ticks "$hpid"); p1=$(ticks "$ppid")
hb1=$(backend_ticks hubble_bench); pb1=$(backend_ticks incumbent_bench)
statements() { sql "SELECT COALESCE(sum(s.calls), 0) || ' ' || round(COALESCE(sum(s.total_exec_time), 0)::numeric, 1)
                    FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid WHERE r.rolname = '$1'"; }
hst=$(statements hubble_bench); pst=$(statements incumbent_bench)
hs=$(curl -fsS "http://127.0.0.1:$hport/metrics" | grep -vc '^#'); ps_=$(curl -fsS "http://127.0.0.1:$pport/metrics" | grep -vc '^#')
python3 - "$hs" "$ps_" "$h0" "$h1" "$p0" "$p1" "$hz" "$SECS" "$hb0" "$hb1" "$pb0" "$pb1" $hst $pst <<'PY'
import sys
hs, ps, h0, h1, p0, p1, hz, secs, hb0, hb1, pb0, pb1, hcalls, hms, pcalls, pms = sys.argv[1:]
hz, secs = int(hz), int(secs)
per = lambda a, b: (int(b) - int(a)) * 1000 / hz / secs
h, p = per(h0, h1), per(p0, p1)
hb, pb = per(hb0, hb1), per(pb0, pb1)
hc, pc = float(hcalls) / secs, float(pcalls) / secs
hx, px = float(hms) / secs, float(pms) / secs
print(f"{'exporter':<52} {'series':>7} {'CPU ms/s':>9} {'backends CPU ms/s':>18} {'statements/s':>13} {'exec ms/s':>10}")
print(f"{'hubble (1 s interval, slow groups at their own)':<52} {hs:>7} {h:>9.2f} {hb:>18.2f} {hc:>13.1f} {hx:>10.2f}")
print(f"{'postgres_exporter (default collectors, 1 scrape/s)':<52} {ps:>7} {p:>9.2f} {pb:>18.2f} {pc:>13.1f} {px:>10.2f}")
ratio = lambda a, b: f"{a / b:.2f}" if b else "n/a"
print(f"hubble / postgres_exporter: exporter CPU {ratio(h, p)}, backends' CPU {ratio(hb, pb)}, "
      f"statements {ratio(hc, pc)}, server execution time {ratio(hx, px)}")
PY
