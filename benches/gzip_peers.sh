#!/usr/bin/env bash
# The scrape path with and without gzip (issue #27, target 5): hubble's Postgres example beside nginx serving
# the same bytes, driven by wrk with and without `Accept-Encoding: gzip`. Prometheus asks for gzip on every
# scrape; the shared peer harness (peers.sh) asks without.
# Usage: benches/gzip_peers.sh [TABLES] [SECONDS]      (defaults 2500 tables ≈ 10k series, 10 s per wrk run)
#
# hubble runs as in peers.sh (the harness's postgres_exporter query file, so the same series). nginx serves
# hubble's own body as a static file and, for gzip, the same body compressed once beforehand (`gzip_static`,
# the cheapest way nginx can answer gzip: no compression per request). Prints requests per second at 1 and 16
# connections, p99 and the exporter's CPU per request, for each.
. "$(dirname "$0")/lib.sh"
needs "wrk nginx-light" wrk nginx
TABLES=${1:-2500}; DUR=${2:-10}
built postgres_exporter
scratch gzip
throwaway_pg "$TABLES"
port=$(free_port)
"$bin" --dsn "postgresql://postgres@127.0.0.1:$pgport/bench?sslmode=disable" --web.listen-address "127.0.0.1:$port" \
  --disable-default-metrics --extend.query-path "$bench/peers/postgres_exporter_queries.yaml" \
  --collection.interval 15s --collection.max-series 1000000 --log.level warn >"$work/exporter.log" 2>&1 &
pid=$!; pids=$pid
url=http://127.0.0.1:$port/metrics
for _ in $(seq 120); do curl -fsS "$url" 2>/dev/null | grep -q n_live_tup && break; sleep 0.5; done
curl -fsS "$url" >"$work/body"
mkdir -p "$work/www"; cp "$work/body" "$work/www/metrics"; gzip -k -6 "$work/www/metrics"; chmod -R a+rX "$work/www"
nport=$(free_port)
cat >"$work/nginx.conf" <<NG
worker_processes 2; daemon off; pid $work/nginx.pid; error_log $work/nginx.err;
events { worker_connections 1024; }
http { access_log off; default_type text/plain; gzip_static on;
       server { listen 127.0.0.1:$nport; root $work/www; } }
NG
nginx -c "$work/nginx.conf" >/dev/null 2>&1 &
npid=$!; pids="$pids $npid"
sleep 1

# CPU ticks of a process and its children (nginx's workers do its work).
tree_ticks() {
  local t=0 p
  for p in "$1" $(pgrep -P "$1"); do t=$((t + $(ticks "$p"))); done
  echo "$t"
}
# run NAME PID URL [HEADER]: one line of the table.
run() {
  local name=$1 who=$2 target=$3 header=${4:-} bytes c1 c16 t0 t1
  local h=(); [ -n "$header" ] && h=(-H "$header")
  bytes=$(curl -fsS "${h[@]}" "$target" | wc -c)
  c1=$(wrk -t1 -c1 -d"${DUR}s" --latency "${h[@]}" "$target" | awk '/Requests\/sec/{printf "%.0f", $2}')
  t0=$(tree_ticks "$who")
  wrk -t2 -c16 -d"${DUR}s" --latency "${h[@]}" "$target" >"$work/wrk"
  t1=$(tree_ticks "$who")
  c16=$(awk '/Requests\/sec/{printf "%.0f", $2}' "$work/wrk")
  local p99 total
  p99=$(awk '$1 == "99%" {print $2}' "$work/wrk")
  total=$(awk '/requests in/{print $1}' "$work/wrk")
  printf '%-24s %10s %9s %9s %9s %12s\n' "$name" "$bytes" "$c1" "$c16" "$p99" \
    "$(python3 -c "print(f'{($t1 - $t0) * 1000 / $hz / max($total, 1):.3f}')")"
}
printf '%-24s %10s %9s %9s %9s %12s\n' "" "bytes" "req/s c1" "req/s c16" "p99 c16" "CPU ms/req"
run "hubble" "$pid" "$url"
run "nginx, static file" "$npid" "http://127.0.0.1:$nport/metrics"
run "hubble, gzip" "$pid" "$url" "Accept-Encoding: gzip"
run "nginx, gzip_static" "$npid" "http://127.0.0.1:$nport/metrics" "Accept-Encoding: gzip"
printf 'series %s\n' "$(grep -vc '^#' "$work/body")"
