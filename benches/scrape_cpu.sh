#!/usr/bin/env bash
# The CPU one scrape of `/metrics` costs the Postgres example, with nothing else running in it (issue #27):
# one target on a throwaway PostgreSQL of TABLES tables, every standard group, collected once at the start
# (an interval of an hour), then SCRAPES scrapes by curl one after the other. CPU is the scheduler's account
# of the process's threads (/proc/PID/task/*/schedstat), user and kernel.
# Usage: benches/scrape_cpu.sh [TABLES] [SCRAPES]      (defaults 100 tables, 200 scrapes)
#        PROFILE=1 benches/scrape_cpu.sh ...   (also samples the scrapes with `perf record` and prints where
#                                              the CPU went, by function)
. "$(dirname "$0")/lib.sh"
needs curl curl
TABLES=${1:-100}; N=${2:-200}
ticks() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%d\n", s}'; }
built postgres_exporter
scratch scrape
throwaway_pg "$TABLES"
port=$(free_port)
url=http://127.0.0.1:$port/metrics
# shellcheck disable=SC2086
"$bin" --dsn "postgresql://postgres@127.0.0.1:$pgport/bench?sslmode=disable" --collection.interval 1h \
  --log.level warn --web.listen-address "127.0.0.1:$port" ${HUBBLE_ARGS:-} >"$work/exporter.log" 2>&1 &
pids=$!
ready "$url"
sleep 3
curl -fsS -o "$work/body" "$url"
t0=$(ticks "$pids")
for _ in $(seq "$N"); do curl -fsS -o /dev/null "$url"; done
t1=$(ticks "$pids")
printf '%-24s %s\n' "series / bytes" "$(grep -vc '^#' "$work/body") / $(wc -c <"$work/body")"
printf '%-24s %s\n' "CPU per scrape, ms" "$(python3 -c "print(round(($t1 - $t0) / $N / 1e6, 3))")"
if [ -n "${PROFILE:-}" ]; then
  needs linux-perf perf
  perf record -q -F 19999 -o "$work/perf.data" -p "$pids" -- sleep 8 2>/dev/null &
  perf_pid=$!
  sleep 0.5
  for _ in $(seq "$N"); do curl -fsS -o /dev/null "$url"; done
  wait "$perf_pid" || true
  perf report -q -i "$work/perf.data" --no-children --sort dso --percent-limit 1 2>/dev/null | grep -v '^$' >&2
  perf report -q -i "$work/perf.data" --no-children -g none --sort symbol --percent-limit 1 2>/dev/null |
    grep -v '^$' | cut -c1-140 | head -30 >&2
fi
