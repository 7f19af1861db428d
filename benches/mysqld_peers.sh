#!/usr/bin/env bash
# Macro benchmark: hubble's MySQL exporter beside Debian's mysqld_exporter 0.14 (prometheus-mysqld-exporter),
# both with their default collectors, on one throwaway MariaDB, each /metrics driven by wrk at 1 and 16
# connections. Usage: benches/mysqld_peers.sh [SECONDS]      (default 10 s per wrk run)
# Columns: series and bytes of one scrape; req/s at 1 and 16 connections; p50/p99 latency at 16; resident
# memory after the load; exporter CPU ms per scrape during the 16-connection run; statements the server ran
# per second during that run (its Questions counter, less the sampling's own).
. "$(dirname "$0")/lib.sh"
needs "wrk mariadb-server prometheus-mysqld-exporter curl" wrk mariadb-install-db mariadbd prometheus-mysqld-exporter curl
SECS=${1:-10}
built mysqld_exporter
scratch mysqld-bench
on_exit() { wait 2>/dev/null || true; } # mariadbd gone before its files are
dbport=$(free_port)
mariadb-install-db --no-defaults --datadir="$work/data" --auth-root-authentication-method=normal --skip-test-db --user=root >/dev/null
PATH=$PATH:/usr/sbin mariadbd --no-defaults --datadir="$work/data" --port="$dbport" --bind-address=127.0.0.1 \
  --socket="$work/sock" --log-error="$work/server.log" --user=root --skip-log-bin --innodb-buffer-pool-size=64M \
  >/dev/null 2>&1 &
pids="$!"
sql() { mariadb --no-defaults -h127.0.0.1 -P"$dbport" -uroot -N -B -e "$1"; }
for _ in $(seq 150); do sql "SELECT 1" >/dev/null 2>&1 && break; sleep 0.2; done
sql "CREATE USER 'exporter'@'127.0.0.1' IDENTIFIED BY 'bench-pw';
     GRANT PROCESS, REPLICATION CLIENT, SLAVE MONITOR, SELECT ON *.* TO 'exporter'@'127.0.0.1';"
hport=$(free_port); pport=$(free_port)
MYSQLD_EXPORTER_PASSWORD=bench-pw HOME=/nonexistent "$bin" --mysqld.address "127.0.0.1:$dbport" \
  --mysqld.username exporter --web.listen-address "127.0.0.1:$hport" --log.level warn >"$work/hubble.log" 2>&1 &
hpid=$!
DATA_SOURCE_NAME="exporter:bench-pw@(127.0.0.1:$dbport)/" prometheus-mysqld-exporter \
  --web.listen-address "127.0.0.1:$pport" >"$work/peer.log" 2>&1 &
ppid=$!
pids="$pids $hpid $ppid"
ready() { for _ in $(seq 150); do curl -fsS "$1" 2>/dev/null | grep -q '^mysql_up 1' && return; sleep 0.2; done; echo "no mysql_up 1 from $1" >&2; exit 1; }
ready "http://127.0.0.1:$hport/metrics"; ready "http://127.0.0.1:$pport/metrics"
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
rss() { awk '/VmRSS/ {print int($2/1024)}' "/proc/$1/status"; }
questions() { sql "SHOW GLOBAL STATUS LIKE 'Questions'" | awk '{print $2}'; }
hz=$(getconf CLK_TCK)
printf '%-40s %7s %9s %8s %9s %7s %7s %6s %13s %7s\n' peer series bytes "req/s c1" "req/s c16" "p50 ms" "p99 ms" "RSS MB" "CPU ms/scrape" "DB q/s"
run() { # name pid port
  local name=$1 pid=$2 url="http://127.0.0.1:$3/metrics" body c1 c16 t0 t1 q0 q1 reqs
  body=$(curl -fsS "$url")
  c1=$(wrk -t1 -c1 -d"${SECS}s" "$url" | awk '/Requests\/sec/ {print $2}')
  t0=$(ticks "$pid"); q0=$(questions)
  wrk -t2 -c16 -d"${SECS}s" --latency "$url" >"$work/wrk.out"
  t1=$(ticks "$pid"); q1=$(questions)
  c16=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.out")
  reqs=$(awk '/requests in/ {print $1}' "$work/wrk.out")
  python3 - "$name" "$(grep -vc '^#' <<<"$body")" "${#body}" "$c1" "$c16" "$work/wrk.out" "$(rss "$pid")" \
    "$(( (t1 - t0) ))" "$hz" "$reqs" "$(( q1 - q0 - 1 ))" "$SECS" <<'PY'
import re, sys
name, series, size, c1, c16, wrk, rss, ticks, hz, reqs, q, secs = sys.argv[1:]
lat = {}
for line in open(wrk):
    m = re.match(r'\s+(50|99)%\s+([\d.]+)(us|ms|s)', line)
    if m:
        v = float(m.group(2)) * {"us": 1e-3, "ms": 1, "s": 1000}[m.group(3)]
        lat[m.group(1)] = v
cpu = int(ticks) * 1000 / int(hz) / max(int(reqs), 1)
print(f"{name:<40} {int(series):>7} {int(size):>9,} {float(c1):>8.0f} {float(c16):>9.0f} {lat.get('50', 0):>7.2f} {lat.get('99', 0):>7.2f} {rss:>6} {cpu:>13.3f} {int(q) / int(secs):>7.1f}")
PY
}
run "hubble mysqld_exporter" "$hpid" "$hport"
run "mysqld_exporter 0.14 (Debian)" "$ppid" "$pport"
