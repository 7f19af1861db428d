#!/usr/bin/env bash
# Macro benchmark: the exporter's own CPU per collection of the standard Postgres groups (issue #6, target 4),
# beside postgres_exporter's CPU per scrape with its default collectors, on one throwaway PostgreSQL.
# Usage: benches/collection_cpu.sh [TABLES] [SECONDS]      (defaults 100 tables, 30 s)
#        HUBBLE_ARGS='--no-collector.stat_user_tables' benches/collection_cpu.sh ...   (extra hubble flags)
#        AGAINST=path benches/collection_cpu.sh ...   (also runs another build of the example beside, as a role
#                                                   of its own, and prints it against this build: an A/B in one run;
#                                                   read it against a control, AGAINST=<a copy of this build>, run
#                                                   the same day: the control gave 1.13-1.14 on 2026-12-06)
#        AGAINST_ARGS='...' (the AGAINST build's flags instead of HUBBLE_ARGS: AGAINST=<this build> with every
#                                                   collector off but pg_up is hubble's cost of a tick)
#        FLOOR=1 benches/collection_cpu.sh ...   (also runs the `query_floor` example beside, as a role of its own:
#                                                   one `SELECT 1` a second over sqlx and nothing else, the floor
#                                                   of any exporter on the same driver; FLOOR_SQL for another
#                                                   statement)
#        WIRE=1 benches/collection_cpu.sh ...   (also runs `query_floor --wire` beside, as a role of its own: the
#                                                   same statement over a few lines of its own protocol code
#                                                   instead of sqlx, the floor under the driver)
#        STATIC=1 benches/collection_cpu.sh ...   (also runs nginx (one worker) serving hubble's body as a static
#                                                   file, fetched once a second like the exporters: the floor of
#                                                   serving a scrape; with FLOOR=1 the two floors add up to what
#                                                   any exporter collecting and scraped once a second spends)
#        PROFILE=1 benches/collection_cpu.sh ...   (also samples hubble with `perf record` over the window and
#                                                   prints where its CPU went, by function; PERF_ARGS, PERF_DATA
#                                                   below)
#
# hubble collects with a 1 s interval, each collector at its own interval (the slow ones every minute by
# default); postgres_exporter runs its collectors on each scrape. Both are scraped once a second (the same
# scrape rate; SCRAPE_HUBBLE=0 leaves hubble (and AGAINST) unscraped, its collection alone), over the same
# window, at once. CPU is utime+stime from /proc: the
# exporters' own, and their PostgreSQL backends' (each exporter connects as a role of its own, so its
# backends are found in pg_stat_activity and its statements in pg_stat_statements).
. "$(dirname "$0")/lib.sh"
needs "prometheus-postgres-exporter curl" prometheus-postgres-exporter curl
TABLES=${1:-100}; SECS=${2:-30}
# CPU in nanoseconds (the scheduler's account of each thread) rather than clock ticks: at about 1 ms of CPU a
# second, one 10 ms tick is 7% of a two-minute window. A thread that ends within the window takes its time
# with it; the exporters keep theirs (tokio's workers, the Go runtime's threads) and each backend is one.
hz=1000000000
ticks() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%d\n", s}'; }
built postgres_exporter
scratch cpu
throwaway_pg "$TABLES"
sql -d bench -c "CREATE ROLE hubble_bench LOGIN SUPERUSER" -c "CREATE ROLE incumbent_bench LOGIN SUPERUSER" \
  -c "CREATE ROLE against_bench LOGIN SUPERUSER" \
  -c "CREATE ROLE floor_bench LOGIN SUPERUSER" -c "CREATE ROLE wire_bench LOGIN SUPERUSER"
hdsn="postgresql://hubble_bench@127.0.0.1:$pgport/bench?sslmode=disable"
pdsn="postgresql://incumbent_bench@127.0.0.1:$pgport/bench?sslmode=disable"
# The summed CPU of a role's backends now, and their pids (a backend that ends within the window takes
# its ticks with it: both exporters keep theirs).
backend_ticks() {
  local total=0 p
  for p in $(sql -d bench -c "SELECT pid FROM pg_stat_activity WHERE usename = '$1'"); do
    [ -r "/proc/$p/stat" ] && total=$((total + $(ticks "$p")))
  done
  echo "$total"
}

start() { # port command... : starts an exporter listening on the port, prints its pid
  local port=$1; shift
  "$@" "127.0.0.1:$port" >>"$work/exporters.log" 2>&1 &
  echo $!
}

# Both run at once over the same window, so a busy machine weighs on both alike; compare the ratio.
hport=$(free_port); pport=$(free_port)
# shellcheck disable=SC2086
hpid=$(start "$hport" "$bin" --dsn "$hdsn" --collection.interval 1s ${HUBBLE_ARGS:-} --log.level warn --web.listen-address)
ppid=$(start "$pport" env DATA_SOURCE_NAME="$pdsn" prometheus-postgres-exporter --web.listen-address)
pids="$hpid $ppid"
if [ -n "${AGAINST:-}" ]; then
  aport=$(free_port)
  # shellcheck disable=SC2086
  apid=$(start "$aport" "$AGAINST" --dsn "${hdsn/hubble_bench/against_bench}" --collection.interval 1s \
    ${AGAINST_ARGS-${HUBBLE_ARGS:-}} \
    --log.level warn --web.listen-address)
  pids="$pids $apid"
  ready "http://127.0.0.1:$aport/metrics"
fi
if [ -n "${FLOOR:-}${WIRE:-}" ]; then
  cargo build --release --example query_floor --manifest-path "$root/Cargo.toml" >&2
fi
if [ -n "${FLOOR:-}" ]; then
  "$root/target/release/examples/query_floor" "${hdsn/hubble_bench/floor_bench}" "${FLOOR_SQL:-SELECT 1}" \
    >>"$work/exporters.log" 2>&1 &
  fpid=$!
  pids="$pids $fpid"
fi
if [ -n "${WIRE:-}" ]; then
  "$root/target/release/examples/query_floor" --wire "${hdsn/hubble_bench/wire_bench}" "${FLOOR_SQL:-SELECT 1}" \
    >>"$work/exporters.log" 2>&1 &
  wpid=$!
  pids="$pids $wpid"
fi
ready "http://127.0.0.1:$hport/metrics"; ready "http://127.0.0.1:$pport/metrics"
sleep 3
if [ -n "${STATIC:-}" ]; then
  needs nginx-light nginx
  mkdir -p "$work/www"; curl -fsS -o "$work/www/metrics" "http://127.0.0.1:$hport/metrics"
  sport=$(free_port)
  cat >"$work/nginx.conf" <<NG
worker_processes 1; daemon off; pid $work/nginx.pid; error_log $work/nginx.err;
events { worker_connections 64; }
http { access_log off; default_type text/plain; server { listen 127.0.0.1:$sport; root $work/www; } }
NG
  nginx -c "$work/nginx.conf" >>"$work/exporters.log" 2>&1 &
  spid=$!
  pids="$pids $spid"
  ready "http://127.0.0.1:$sport/metrics"
fi
# nginx's CPU is its master's and its worker's.
static_ticks() { local t=0 p; for p in $spid $(pgrep -P "$spid"); do t=$((t + $(ticks "$p"))); done; echo "$t"; }
curl -fsS -o /dev/null "http://127.0.0.1:$pport/metrics"
sql -d bench -c "SELECT pg_stat_statements_reset()" >/dev/null
h0=$(ticks "$hpid"); p0=$(ticks "$ppid")
hb0=$(backend_ticks hubble_bench); pb0=$(backend_ticks incumbent_bench)
[ -n "${AGAINST:-}" ] && { a0=$(ticks "$apid"); ab0=$(backend_ticks against_bench); }
[ -n "${FLOOR:-}" ] && { f0=$(ticks "$fpid"); fb0=$(backend_ticks floor_bench); }
[ -n "${WIRE:-}" ] && { w0=$(ticks "$wpid"); wb0=$(backend_ticks wire_bench); }
[ -n "${STATIC:-}" ] && s0=$(static_ticks)
if [ -n "${PROFILE:-}" ]; then
  needs linux-perf perf
  # PERF_ARGS: other sampling (`--call-graph dwarf -F 499` for callers); PERF_DATA=path keeps the samples.
  # shellcheck disable=SC2086
  perf record -q ${PERF_ARGS:--F 19999} -o "${PERF_DATA:-$work/perf.data}" -p "$hpid" -- sleep "$SECS" 2>/dev/null &
  perf_pid=$!
fi
for _ in $(seq "$SECS"); do
  curl -fsS -o /dev/null "http://127.0.0.1:$pport/metrics"
  if [ "${SCRAPE_HUBBLE:-1}" != 0 ]; then
    curl -fsS -o /dev/null "http://127.0.0.1:$hport/metrics"
    [ -n "${AGAINST:-}" ] && curl -fsS -o /dev/null "http://127.0.0.1:$aport/metrics"
  fi
  [ -n "${STATIC:-}" ] && curl -fsS -o /dev/null "http://127.0.0.1:$sport/metrics"
  sleep 1
done
h1=$(ticks "$hpid"); p1=$(ticks "$ppid")
[ -n "${AGAINST:-}" ] && a1=$(ticks "$apid")
[ -n "${FLOOR:-}" ] && f1=$(ticks "$fpid")
[ -n "${WIRE:-}" ] && w1=$(ticks "$wpid")
[ -n "${STATIC:-}" ] && s1=$(static_ticks)
if [ -n "${PROFILE:-}" ]; then
  wait "$perf_pid" || true
  # Where its samples fell: by library, then by function (self time; the release build keeps symbols).
  perf report -q -i "${PERF_DATA:-$work/perf.data}" --no-children --sort dso --percent-limit 1 2>/dev/null | grep -v '^$' >&2
  perf report -q -i "${PERF_DATA:-$work/perf.data}" --no-children -g none --sort symbol --percent-limit 0.7 2>/dev/null | grep -v '^$' |
    cut -c1-150 | head -45 >&2
fi
hb1=$(backend_ticks hubble_bench); pb1=$(backend_ticks incumbent_bench)
[ -n "${AGAINST:-}" ] && ab1=$(backend_ticks against_bench)
[ -n "${FLOOR:-}" ] && fb1=$(backend_ticks floor_bench)
[ -n "${WIRE:-}" ] && wb1=$(backend_ticks wire_bench)
statements() { sql -d bench -c "SELECT COALESCE(sum(s.calls), 0) || ' ' || round(COALESCE(sum(s.total_exec_time), 0)::numeric, 1)
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
beside() { # LABEL T0 T1 BACKEND_T0 BACKEND_T1: a process run beside the exporters, against them
  python3 - "$@" "$h0" "$h1" "$hb0" "$hb1" "$p0" "$p1" "$hz" "$SECS" <<'PY'
import sys
label, x0, x1, xb0, xb1, h0, h1, hb0, hb1, p0, p1, hz, secs = sys.argv[1:]
per = lambda a, b: (int(b) - int(a)) * 1000 / int(hz) / int(secs)
x, xb, h, hb, p = per(x0, x1), per(xb0, xb1), per(h0, h1), per(hb0, hb1), per(p0, p1)
ratio = lambda a, b: f"{a / b:.2f}" if b else "n/a"
print(f"{label}: CPU {x:.2f} ms/s, backends' CPU {xb:.2f} ms/s; it / postgres_exporter {ratio(x, p)}; "
      f"this build / it: exporter CPU {ratio(h, x)}, backends' CPU {ratio(hb, xb)}")
PY
}
[ -n "${AGAINST:-}" ] && beside "AGAINST $AGAINST" "$a0" "$a1" "$ab0" "$ab1"
[ -n "${FLOOR:-}" ] && beside "FLOOR (query_floor, one statement a second over sqlx)" "$f0" "$f1" "$fb0" "$fb1"
[ -n "${WIRE:-}" ] && beside "WIRE (query_floor --wire, the same over its own protocol code)" "$w0" "$w1" "$wb0" "$wb1"
[ -n "${STATIC:-}" ] && beside "STATIC (nginx serving hubble's body, fetched once a second)" "$s0" "$s1" 0 0
exit 0
