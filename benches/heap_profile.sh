#!/usr/bin/env bash
# What a target costs in memory, by owner (issue #27, item 4): the live heap of the release Postgres example
# with N discovered targets, sampled with heaptrack after SETTLE seconds.
# Usage: benches/heap_profile.sh [TARGETS] [SETTLE_SECONDS]      (defaults 300 targets, 60 s)
#
# The targets are those of many_targets.sh (one throwaway PostgreSQL, 10 tables, 1-connection pools, every
# standard group, 15 s interval). After SETTLE seconds and two scrapes the exporter is killed (SIGKILL), so
# heaptrack's "leaked" bytes are exactly what was live then. Each allocation's stack is charged to the
# innermost frame that names an owner (the cache, the collectors, the driver's connections, ...); the table
# gives each owner's MB and KB per target. Heaptrack slows the process: a run of 300 targets takes ~3 min.
# STACKS=FILE keeps the folded stacks (one live allocation site per line, its bytes last) for a closer look,
# and FILE.peak those at the heap's peak.
# A second table charges the heap at its peak the same way: the process's RSS follows the peak, not what is
# live at the end (glibc keeps freed memory within the heap for reuse).
. "$(dirname "$0")/lib.sh"
needs "heaptrack" heaptrack heaptrack_print
N=${1:-300}; SETTLE=${2:-60}
built postgres_exporter
scratch heap
throwaway_pg 10 $((N + 100))
port=$(free_port)
sd=$work/targets.yml
replicas "$sd" "$N"
# From the scratch directory: heaptrack leaves a file named `0` in its working directory.
cd "$work"
heaptrack -o "$work/heap" "$bin" --discovery.file "$sd" --discovery.interval 5s --target.max-connections 1 \
  --collection.interval 15s --web.listen-address "127.0.0.1:$port" --log.level warn ${EXPORTER_ARGS:-} \
  >"$work/exporter.log" 2>&1 &
pids=$!
url=http://127.0.0.1:$port/metrics
ready "$url"
echo "waiting ${SETTLE}s for $N targets under heaptrack..." >&2
sleep "$SETTLE"
curl -fsS -o /dev/null "$url"
curl -fsS "$url" >"$work/body"
up=$(grep -c '^pg_up{.*} 1$' "$work/body" || true)
series=$(grep -vc '^#' "$work/body")
# The exporter itself (heaptrack's child), killed so that nothing is freed on the way out.
exporter=$(pgrep -P "$pids" -f "$bin" || pgrep -f "^$bin --discovery.file $sd")
kill -9 "$exporter"
wait "$pids" 2>/dev/null || true
heaptrack_print -f "$work/heap.zst" --print-peaks 0 --print-allocators 0 --print-leaks 0 --print-temporary 0 \
  --print-histogram 0 -F "$work/stacks" --flamegraph-cost-type leaked >/dev/null
heaptrack_print -f "$work/heap.zst" --print-peaks 0 --print-allocators 0 --print-leaks 0 --print-temporary 0 \
  --print-histogram 0 -F "$work/peak" --flamegraph-cost-type peak >/dev/null
[ -n "${STACKS:-}" ] && cp "$work/stacks" "$STACKS" && cp "$work/peak" "$STACKS.peak"
printf '%-28s %s\n' "targets (pg_up 1)" "$N ($up)" "series" "$series"
python3 - "$work/stacks" "$work/peak" "$N" <<'PY'
import sys, collections
n = int(sys.argv[3])
# Owners by the innermost frame that names one, in this order of precedence.
owners = [
    ("cache: encoded runs", ("encode_collection", "CollectorCache::record", "CollectorCache::store")),
    ("collectors and their caches", ("BaseExporter::add_dyn", "BaseExporterBuilder")),
    ("driver connections (sqlx)", ("sqlx_core::net", "sqlx_postgres", "sqlx_core::pool", "sqlx_core::common")),
    ("scheduler", ("hubble::scheduler",)),
    ("registry and dispatcher", ("hubble::registry", "hubble::dispatcher")),
    ("connections (hubble)", ("hubble::connections",)),
]
def table(stacks, what):
    total, by = 0, collections.Counter()
    for line in open(stacks):
        stack, _, size = line.rstrip().rpartition(" ")
        size = int(size); total += size
        owner = "other"
        for frame in reversed(stack.split(";")):
            hit = next((name for name, marks in owners if any(m in frame for m in marks)), None)
            if hit:
                owner = hit
                break
        by[owner] += size
    print(f"{what + ', MB':28} {total / 1e6:.1f} ({total / n / 1e3:.1f} KB per target)")
    for owner, size in by.most_common():
        print(f"  {owner:26} {size / 1e6:6.1f} MB {size / n / 1e3:6.1f} KB per target")
table(sys.argv[1], "live heap")
table(sys.argv[2], "heap at its peak")
PY
