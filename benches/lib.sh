# What the benches share; each sources it first (`. "$(dirname "$0")/lib.sh"`). Sets `root` (the checkout),
# `bench` (../shared/bench: pg.sh and the incumbents), `PGBIN`, `hz`; `pids` are killed on exit.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bench=${BENCH_DIR:-$root/../shared/bench}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
hz=$(getconf CLK_TCK)
pids=
work=

# needs PACKAGES COMMAND...: stops, naming what to install, when a command is missing.
needs() {
  local packages=$1 c; shift
  for c in "$@"; do
    command -v "$c" >/dev/null || [ -x "/usr/sbin/$c" ] ||
      { echo "$(basename "$0"): needs $c (apt-get install $packages)" >&2; exit 1; }
  done
}

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

# ticks PID: the CPU a process has used (utime+stime, in clock ticks of `hz`).
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }

# ready URL: waits up to 30 s for it to answer.
ready() {
  for _ in $(seq 150); do curl -fsS -o /dev/null "$1" 2>/dev/null && return; sleep 0.2; done
  echo "no answer from $1" >&2; exit 1
}

# built BINARY: the release build of an example's binary in `bin` (HUBBLE_BIN=path: that build instead).
built() {
  if [ -n "${HUBBLE_BIN:-}" ]; then bin=$HUBBLE_BIN; return; fi
  cargo build --release --bin "$1" --manifest-path "$root/Cargo.toml" >&2
  bin=$root/target/release/$1
}

# scratch NAME: a directory in `work`, removed on exit after `pids` are stopped, the throwaway PostgreSQL
# with them, and the script's own `on_exit` run if it has one.
scratch() {
  work=$(mktemp -d "/tmp/hubble-$1.XXXXXX"); chmod 755 "$work"
  trap cleanup EXIT
}
cleanup() {
  set +e # everything is cleaned up, whatever already stopped
  # shellcheck disable=SC2086
  [ -n "$pids" ] && kill $pids 2>/dev/null
  sleep 0.5
  declare -F on_exit >/dev/null && on_exit
  [ -d "$work/pg" ] && "$bench/pg.sh" stop "$work/pg"
  rm -rf "$work"
}

# throwaway_pg TABLES [MAX_CONNECTIONS]: PostgreSQL 15 on `pgport`, in the scratch directory, with pg.sh's
# `bench` database of TABLES tables (and room for MAX_CONNECTIONS connections, when given).
throwaway_pg() {
  pgport=$(free_port)
  "$bench/pg.sh" start "$work/pg" "$pgport" "$1" >&2
  if [ -n "${2:-}" ]; then
    # pg.sh fixes max_connections on the command line: start again with room.
    su postgres -c "$PGBIN/pg_ctl -D $work/pg/data -m fast -w stop >/dev/null"
    su postgres -c "$PGBIN/pg_ctl -D $work/pg/data -o '-p $pgport -k $work/pg -c listen_addresses=127.0.0.1 \
      -c max_connections=$2 -c shared_preload_libraries=pg_stat_statements' -l $work/pg/log -w start >/dev/null"
  fi
}

# log_summary FILE WIDTH: how many lines the exporter logged in FILE, and its five most frequent (timestamps
# aside).
log_summary() {
  { grep -c . "$1" || true; } | xargs printf "%-${2}s %s\n" "exporter log lines"
  cut -c1-200 "$1" | sed -E 's/[0-9:.TZ-]{20,}//' | sort | uniq -c | sort -rn | head -5
}

# sql ARGS...: psql as the superuser on the throwaway PostgreSQL, unaligned and quiet (give -d and -c).
sql() { psql -h 127.0.0.1 -p "$pgport" -U postgres -X -q -At "$@"; }

# replicas FILE N: a file_sd FILE of N targets, all the throwaway PostgreSQL (`pgport`), told apart by a
# `replica` label; written beside FILE and moved in, so a watching exporter never reads half of it.
replicas() {
  python3 - "$1" "$2" "$pgport" <<'PY'
import sys
path, n, port = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(path + ".tmp", "w") as f:
    f.write("".join(f"- targets: ['127.0.0.1:{port}']\n  labels: {{service: db, replica: 'r{i}', "
                    f"__param_dbname: bench, __param_sslmode: disable}}\n" for i in range(n)))
PY
  mv "$1.tmp" "$1"
}
