#!/usr/bin/env bash
# Macro benchmark: N discovery-managed targets in one exporter process (issue #6, target 3).
# Usage: benches/many_targets.sh [TARGETS] [SETTLE_SECONDS]      (defaults 1000 targets, 60 s)
#
# Starts a throwaway PostgreSQL 15 (max_connections raised), starts the release Postgres example on an EMPTY
# file_sd file and reads its RSS (the empty process), then writes TARGETS targets into the file (all pointing at
# the one server, told apart by a `replica` label, 1-connection pools, every standard group, 15 s interval),
# waits SETTLE_SECONDS and prints: RSS growth, series and bytes of /metrics, PostgreSQL's active backends over
# one interval, and the time of a full /metrics (curl, best and median of 10) in text, OpenMetrics and gzip.
# PROBE=1 probes the N targets through /probe instead (the multi-target pattern) and prints RSS growth and the
# time of each probe over sweeps of all N.
. "$(dirname "$0")/lib.sh"
needs "nginx-light curl" nginx curl
N=${1:-1000}; SETTLE=${2:-60}
if [ -n "${PROBE:-}" ] && [ "$N" -gt 1000 ]; then
  echo "$(basename "$0"): PROBE=1 takes at most 1000 targets (the exporter keeps 1,000 probed targets)" >&2; exit 1
fi
# HUBBLE_BIN=path runs another build of the example instead of building this one. AGAINST=path runs a second
# build beside it on the same targets and scrapes the two in turn (an A/B in one run; ROUNDS, default 20).
built postgres_exporter
scratch many
# Room for one connection per target.
throwaway_pg 10 $((${AGAINST:+2 *} N + 100))
port=$(free_port)

rss_mb() { awk '/VmRSS/{printf "%.1f", $2/1024}' "/proc/$pid/status"; }
growth() { python3 -c "print(f'{$1-$empty:.1f}')"; } # RSS MB beyond the empty process
sd=$work/targets.yml
echo "[]" >"$sd"
# /probe reaches only allowed servers: PROBE=1 allows the loopback PostgreSQL.
probe_args=()
[ -n "${PROBE:-}" ] && probe_args=(--probe.allowed-targets "127.0.0.1:*")
${EXPORTER_WRAP:-} "$bin" --discovery.file "$sd" --discovery.interval 5s --target.max-connections 1 --collection.interval 15s \
  --web.listen-address "127.0.0.1:$port" --log.level warn "${probe_args[@]}" ${EXPORTER_ARGS:-} >"$work/exporter.log" 2>&1 &
pid=$!; pids=$pid
url=http://127.0.0.1:$port/metrics
ready "$url"
curl -fsS -o /dev/null "$url"; sleep 1
empty=$(rss_mb)

if [ -n "${PROBE:-}" ]; then
  # PROBE=1: the same N targets scraped the multi-target way instead, each through /probe (Prometheus does the
  # discovery). A target is told apart by its user, one role per target; trust auth.
  psql -h 127.0.0.1 -p "$pgport" -U postgres -X -q -d bench \
    -c "DO \$\$ BEGIN FOR i IN 0..$((N - 1)) LOOP EXECUTE format('CREATE ROLE r%s LOGIN IN ROLE pg_monitor', i); END LOOP; END \$\$"
  probes=$work/probes.curl
  for i in $(seq 0 $((N - 1))); do
    printf 'url = "http://127.0.0.1:%s/probe?target=postgres%%3A%%2F%%2Fr%s%%40127.0.0.1%%3A%s%%2Fbench%%3Fsslmode%%3Ddisable"\noutput = /dev/null\n' \
      "$port" "$i" "$pgport"
  done >"$probes"
  # First probes create the targets; each waits for its first collection, so eight at a time.
  grep '^url' "$probes" | cut -d'"' -f2 | xargs -P 8 -n 1 curl -fsS -o /dev/null
  echo "waiting ${SETTLE}s for $N probed targets to settle..." >&2
  sleep "$SETTLE"
  settled=$(rss_mb)
  t0=$(ticks "$pid"); sleep 5; idle=$(( $(ticks "$pid") - t0 ))
  curl -fsS "$(grep -m1 '^url' "$probes" | cut -d'"' -f2)" >"$work/body"
  series=$(grep -vc '^#' "$work/body"); bytes=$(wc -c <"$work/body")
  # Sweeps of every target, one request after another on one connection, as one scraper would.
  for round in 1 2 3; do
    t0=$(ticks "$pid"); s0=$(date +%s%N)
    curl -sS -K "$probes" -w '%{http_code} %{time_total}\n' >"$work/sweep"
    s1=$(date +%s%N); t1=$(ticks "$pid")
    ok=$(grep -c '^200 ' "$work/sweep" || true)
    sort -k2 -n "$work/sweep" | awk -v ok="$ok" -v wall=$(( (s1 - s0) / 1000000 )) \
      -v cpu=$(( (t1 - t0) * 1000 / $(getconf CLK_TCK) - idle * 1000 / $(getconf CLK_TCK) * (s1 - s0) / 5000000000 )) \
      '{t[NR] = $2 * 1000} END {printf "sweep %d: %d/%d probes ok, p50 / p99 / max %.2f / %.2f / %.2f ms, %d ms in all, exporter CPU %.0f us per probe\n",
        '"$round"', ok, NR, t[int((NR + 1) / 2)], t[int(NR * 0.99)], t[NR], wall, cpu * 1000 / NR}'
  done
  after=$(rss_mb)
  printf '%-34s %s\n' "probed targets" "$N" \
    "series / bytes of one probe" "$series / $bytes" \
    "RSS empty / settled / growth MB" "$empty / $settled / $(growth "$settled")" \
    "RSS after the sweeps / growth MB" "$after / $(growth "$after")"
  { grep -c . "$work/exporter.log" || true; } | xargs printf '%-34s %s\n' "exporter log lines"
  exit 0
fi

replicas "$sd" "$N"
# AGAINST=path starts another build beside this one, on the same targets, for an A/B in one run (below).
if [ -n "${AGAINST:-}" ]; then
  port_b=$(free_port)
  "$AGAINST" --discovery.file "$sd" --discovery.interval 5s --target.max-connections 1 --collection.interval 15s \
    --web.listen-address "127.0.0.1:$port_b" --log.level warn ${EXPORTER_ARGS:-} >"$work/exporter_b.log" 2>&1 &
  pid_b=$!; pids="$pids $pid_b"
fi
echo "waiting ${SETTLE}s for $N targets to settle..." >&2
sleep "$SETTLE"

timed() { # curl args... -> best and median ms of 10
  for _ in $(seq 10); do curl -fsS -o /dev/null -w '%{time_total}\n' "$@"; done | sort -n |
    awk '{a[NR]=$1*1000} END {printf "%.1f / %.1f", a[1], a[int((NR+1)/2)]}'
}
settled=$(rss_mb)
# How the collections load the database: active backends (all targets share this server), sampled every
# 0.25 s over one 15 s interval, before any scrape.
active=$(for _ in $(seq 60); do
  psql -h 127.0.0.1 -p "$pgport" -U postgres -X -qtA -d postgres \
    -c "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid()"
  sleep 0.25
done | sort -n | awk '{a[NR] = $1; s += $1} END {printf "%.1f / %d / %d", s / NR, a[int((NR + 1) / 2)], a[NR]}')
curl -fsS "$url" >"$work/body"
series=$(grep -vc '^#' "$work/body"); bytes=$(wc -c <"$work/body")
[ -n "${BODY_OUT:-}" ] && cp "$work/body" "$BODY_OUT"
up=$(grep -c '^pg_up{.*} 1$' "$work/body" || true)
t_text=$(timed "$url")
t_om=$(timed -H 'Accept: application/openmetrics-text; version=1.0.0' "$url")
t_gz=$(timed -H 'Accept-Encoding: gzip' "$url")
after=$(rss_mb)
# The ceiling for a body this size on this machine: nginx serving the same bytes from a file.
mkdir -p "$work/www"; cp "$work/body" "$work/www/metrics"; chmod -R a+rX "$work/www"
nport=$(free_port)
cat >"$work/nginx.conf" <<NG
worker_processes 2; daemon off; pid $work/nginx.pid; error_log $work/nginx.err;
events { worker_connections 64; }
http { access_log off; default_type text/plain; server { listen 127.0.0.1:$nport; root $work/www; } }
NG
nginx -c "$work/nginx.conf" >/dev/null 2>&1 & npid=$!
sleep 1
t_nginx=$(timed "http://127.0.0.1:$nport/metrics")
kill "$npid"
cpu=$(awk -v t="$(ticks "$pid")" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.1f", t / hz}')
printf '%-34s %s\n' "targets (pg_up 1)" "$N ($up)" \
  "series / bytes of /metrics" "$series / $bytes" \
  "RSS empty / settled / growth MB" "$empty / $settled / $(growth "$settled")" \
  "RSS after the scrapes / growth MB" "$after / $(growth "$after")" \
  "active backends, mean / median / max" "$active" \
  "full /metrics text, best / median ms" "$t_text" \
  "OpenMetrics, best / median ms" "$t_om" \
  "gzip, best / median ms" "$t_gz" \
  "nginx, same bytes, best / median ms" "$t_nginx" \
  "exporter CPU seconds so far" "$cpu"
log_summary "$work/exporter.log" 34
if [ -n "${AGAINST:-}" ]; then
  # One scrape of each in turn, so both see the same machine; CPU is the exporter's utime+stime over its scrape.
  for _ in $(seq "${ROUNDS:-20}"); do
    for side in a b; do
      if [ $side = a ]; then p=$pid; u=$url; else p=$pid_b; u=http://127.0.0.1:$port_b/metrics; fi
      t0=$(ticks "$p"); ms=$(curl -fsS -o /dev/null -w '%{time_total}' "$u"); t1=$(ticks "$p")
      echo "$side $ms $((t1 - t0))"
    done
  done >"$work/ab"
  for side in a b; do
    name=$bin; [ $side = b ] && name=$AGAINST
    awk -v s=$side '$1 == s {print $2 * 1000, $3}' "$work/ab" | sort -n | awk -v n="$name" -v hz="$(getconf CLK_TCK)" \
      '{t[NR] = $1; c += $2} END {printf "A/B %s: full /metrics best / median %.1f / %.1f ms, CPU %.0f ms per scrape\n",
        n, t[1], t[int((NR + 1) / 2)], c * 1000 / hz / NR}'
  done
fi
# HOLD=seconds keeps the exporter and PostgreSQL running after the figures, for profiling a scrape.
if [ -n "${HOLD:-}" ]; then echo "holding ${HOLD}s: exporter pid $pid, $url" >&2; sleep "$HOLD"; fi
