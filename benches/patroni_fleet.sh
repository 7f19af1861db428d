#!/usr/bin/env bash
# Macro benchmark: Patroni members discovered from etcd (issue #28). MEMBERS members in clusters of 10, all
# pointing at one throwaway PostgreSQL 15 (max_connections raised; 1-connection pools, collected every INTERVAL, 15 s by default), written
# into a throwaway etcd as Patroni writes them, exported by one release Postgres exporter with
# --discovery.etcd.patroni-namespace. Prints the exporter's RSS (empty, settled), its CPU per second once
# settled, the series of /metrics, and the time from a leader key change to the role label following
# (median and worst of ROUNDS changes, 10 by default), then the same for a member added.
# Usage: [INTERVAL=15s] [EXPORTER_ARGS=...] benches/patroni_fleet.sh [MEMBERS] [SETTLE_SECONDS]
#        (defaults 1000 members, 60 s)
#
# Every member points at the one server: at 1,000 members its ~1,900 queries a second (15 s interval) saturate
# it on a small machine, and a re-created target's first collection then waits behind them. INTERVAL=60s
# lightens that load.
. "$(dirname "$0")/lib.sh"
needs "etcd-server etcd-client curl postgresql" etcd etcdctl curl psql
N=${1:-1000}; SETTLE=${2:-60}; ROUNDS=${ROUNDS:-10}; INTERVAL=${INTERVAL:-15s}
built postgres_exporter
scratch patroni
throwaway_pg 10 $((N + 100))
port=$(free_port); eport=$(free_port); epeer=$(free_port)
etcd --data-dir "$work/etcd" --listen-client-urls "http://127.0.0.1:$eport" --advertise-client-urls "http://127.0.0.1:$eport" \
  --listen-peer-urls "http://127.0.0.1:$epeer" --initial-advertise-peer-urls "http://127.0.0.1:$epeer" \
  --initial-cluster "default=http://127.0.0.1:$epeer" --log-level warn >"$work/etcd.log" 2>&1 &
pids=$!
E=(env ETCDCTL_API=3 etcdctl --endpoints "http://127.0.0.1:$eport")
for _ in $(seq 100); do "${E[@]}" endpoint health >/dev/null 2>&1 && break; sleep 0.1; done

member() { # cluster member role
  printf '{"conn_url":"postgres://127.0.0.1:%s/bench","api_url":"http://127.0.0.1:8008/patroni","state":"running","role":"%s","version":"3.0.2","timeline":1}' "$pgport" "$3"
}
rss_mb() { awk '/VmRSS/{printf "%.1f", $2/1024}' "/proc/$pid/status"; }
url=http://127.0.0.1:$port/metrics
"$bin" --discovery.etcd.endpoints "http://127.0.0.1:$eport" --discovery.etcd.patroni-namespace /service/ \
  --target.max-connections 1 --collection.interval "$INTERVAL" --target.sslmode disable \
  --web.listen-address "127.0.0.1:$port" --log.level warn ${EXPORTER_ARGS:-} >"$work/exporter.log" 2>&1 &
pid=$!; pids="$pids $pid"
ready "$url"
sleep 1
empty=$(rss_mb)

# The fleet, written as Patroni writes it (through the HTTP gateway: one etcdctl per key would take minutes).
python3 - "$eport" "$N" "$pgport" <<'PY'
import base64, http.client, json, sys
eport, n, pgport = sys.argv[1], int(sys.argv[2]), sys.argv[3]
c = http.client.HTTPConnection("127.0.0.1", int(eport))
def put(k, v):
    b = lambda s: base64.b64encode(s.encode()).decode()
    c.request("POST", "/v3/kv/put", json.dumps({"key": b(k), "value": b(v)}))
    r = c.getresponse(); r.read(); assert r.status == 200
for i in range(n):
    cl, m = f"c{i // 10:03}", f"m{i:04}"
    role = "master" if i % 10 == 0 else "replica"
    put(f"/service/{cl}/members/{m}", json.dumps({"conn_url": f"postgres://127.0.0.1:{pgport}/bench",
        "api_url": "http://127.0.0.1:8008/patroni", "state": "running", "role": role, "version": "3.0.2", "timeline": 1}))
    if i % 10 == 0:
        put(f"/service/{cl}/leader", m)
PY
echo "waiting ${SETTLE}s for $N members to settle..." >&2
sleep "$SETTLE"
settled=$(rss_mb)
t0=$(ticks "$pid"); sleep 15; cpu=$(awk -v t=$(( $(ticks "$pid") - t0 )) -v hz="$hz" 'BEGIN {printf "%.3f", t / hz / 15}')
curl -fsS "$url" >"$work/body"
series=$(grep -vc '^#' "$work/body"); ups=$(grep -c '^pg_up{' "$work/body" || true)
scrape_ms=$(curl -fsS -o /dev/null -w '%{time_total}' "$url" | awk '{printf "%.0f", $1 * 1000}')

# Leader changes: cluster c000's leadership moves from member to member; timed from the key's write to the
# label on /metrics (polled every 10 ms).
shows() { # pattern -> whether one scrape of /metrics has a line starting with it
  curl -fsS -o "$work/poll" "$url" && grep -q "^$1" "$work/poll"
}
follow() { # member start -> ms until pg_up{member=...,role="primary"} shows (a scrape's time included)
  local want=$1 s0=$2
  for _ in $(seq 600); do
    if shows "pg_up{cluster=\"c000\",member=\"$want\",role=\"primary\""; then
      echo $(( ($(date +%s%N) - s0) / 1000000 )); return
    fi
    sleep 0.01
  done
  echo 99999
}
for r in $(seq "$ROUNDS"); do
  m=$(printf 'm%04d' $(( r % 10 )))
  s0=$(date +%s%N); "${E[@]}" put /service/c000/leader "$m" >/dev/null
  follow "$m" "$s0"
done | sort -n | awk '{a[NR] = $1} END {printf "%-40s %d / %d ms\n", "leader key to role label, median / worst", a[int((NR + 1) / 2)], a[NR]}'
s0=$(date +%s%N)
"${E[@]}" put /service/c000/members/extra "$(member c000 extra replica)" >/dev/null
for _ in $(seq 600); do shows 'pg_up{cluster="c000",member="extra"' && break; sleep 0.01; done
added=$(( ($(date +%s%N) - s0) / 1000000 ))
printf '%-40s %s\n' "members (pg_up series)" "$N ($ups)" \
  "series of /metrics, one scrape ms" "$series, $scrape_ms" \
  "RSS empty / settled MB" "$empty / $settled" \
  "CPU settled, cores" "$cpu" \
  "member added to its series, ms" "$added"
log_summary "$work/exporter.log" 40
