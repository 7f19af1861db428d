#!/usr/bin/env bash
# Macro benchmark: a start at scale (issue #16, target 5). TARGETS file_sd targets on one throwaway PostgreSQL
# 15 appear at once (1-connection pools, every standard group, 15 s interval). Prints the seconds until every
# target shows pg_up 1, the "collector failing" lines the start logged, and peak backends.
# Usage: benches/quiet_start.sh [TARGETS] [LIMIT_SECONDS]      (defaults 1000 targets, 90 s)
. "$(dirname "$0")/lib.sh"
needs curl curl
N=${1:-1000}; LIMIT=${2:-90}
built postgres_exporter
scratch start
throwaway_pg 10 $((N + 100))
port=$(free_port)
sd=$work/targets.yml; : >"$sd"
"$bin" --discovery.file "$sd" --discovery.interval 1s --target.max-connections 1 --collection.interval 15s \
  --web.listen-address "127.0.0.1:$port" --log.level warn ${EXPORTER_ARGS:-} >"$work/exporter.log" 2>&1 &
pids=$!
ready "http://127.0.0.1:$port/-/healthy"
(
  while :; do
    psql -h 127.0.0.1 -p "$pgport" -U postgres -X -q -At -d postgres \
      -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'hubble_postgres_exporter'" 2>/dev/null || true
    sleep 0.5
  done
) >"$work/backends" &
pids="$pids $!"
replicas "$sd" "$N"
start=$(date +%s.%N); all_up=
while :; do
  now=$(date +%s.%N); elapsed=$(python3 -c "print(f'{$now - $start:.1f}')")
  up=$(curl -fsS "http://127.0.0.1:$port/metrics" | grep -c '^pg_up{.*} 1$' || true)
  if [ "$up" -ge "$N" ]; then all_up=$elapsed; break; fi
  if python3 -c "import sys; sys.exit(0 if $now - $start > $LIMIT else 1)"; then break; fi
  sleep 1
done
sleep 20 # the rest of the first intervals, for failures they log
failing=$(grep -c 'collector failing' "$work/exporter.log" || true)
peak=$(sort -n "$work/backends" | tail -1)
echo "most frequent failures:"
grep 'collector failing' "$work/exporter.log" | grep -o 'error=.*' | cut -c1-100 | sort | uniq -c | sort -rn | head -5 || true
printf '%-32s %s\n' "targets" "$N" "all pg_up 1 after (s)" "${all_up:-not within ${LIMIT}s ($up up)}" \
  "collector failing lines" "$failing" "peak backends" "$peak"
