#!/usr/bin/env bash
# Micro-level macro benchmark: user-space instructions per collection tick, counted by callgrind, for the
# release Postgres example and the driver's floor (`query_floor`: one `SELECT 1` a second over sqlx, nothing
# else), and where they go by function (`callgrind_annotate` on the dumps it leaves with KEEP=DIR). Counts do
# not move with the machine's load the way CPU time does, but they leave out the kernel's part (system calls,
# wake-ups), which on a virtual machine can be half of a small tick's CPU (`docs/performance.md` §10, "The
# driver's floor").
# Usage: benches/tick_instructions.sh [TABLES] [SECONDS]      (defaults 100 tables, 30 s)
#        HUBBLE_ARGS='--no-collector.X ...'   (hubble's flags; AGAINST=path also counts another build with them)
#
# Counts move with what the server holds (its sessions and locks are rows of the groups) and with how the
# answers arrive: the same build counted 2.21 M and 2.34 M a tick in two runs, and two copies of one build
# in the same run differed by up to 6% (2026-12-06). Read an A/B as a swapped pair, HUBBLE_BIN=new
# AGAINST=old then HUBBLE_BIN=old AGAINST=new, whose ratio is sqrt(first / second), and trust only a
# difference well above that.
#
. "$(dirname "$0")/lib.sh"
needs valgrind valgrind callgrind_control
TABLES=${1:-100}; SECS=${2:-30}; WARMUP=${WARMUP:-70}
built postgres_exporter
cargo build --release --example query_floor --manifest-path "$root/Cargo.toml" >&2
scratch ticks
throwaway_pg "$TABLES"
dsn="postgresql://postgres@127.0.0.1:$pgport/bench?sslmode=disable"
names=(); procs=()
grind() { # name command...: starts the command under callgrind, counters on from the start
  valgrind --tool=callgrind --callgrind-out-file="$work/cg.$1" "${@:2}" >>"$work/$1.log" 2>&1 &
  names+=("$1"); procs+=($!); pids="$pids $!"
}
# shellcheck disable=SC2086
grind hubble "$bin" --dsn "$dsn" --collection.interval 1s ${HUBBLE_ARGS:-} --log.level warn \
  --web.listen-address "127.0.0.1:$(free_port)"
if [ -n "${AGAINST:-}" ]; then
  # shellcheck disable=SC2086
  grind against "$AGAINST" --dsn "$dsn" --collection.interval 1s ${HUBBLE_ARGS:-} --log.level warn \
    --web.listen-address "127.0.0.1:$(free_port)"
fi
grind floor "$root/target/release/examples/query_floor" "$dsn" "SELECT 1" 1000
echo "warming up for ${WARMUP}s, then counting for ${SECS}s..." >&2
sleep "$WARMUP"
for p in "${procs[@]}"; do
  kill -0 "$p" 2>/dev/null || { echo "$(basename "$0"): a program ended early: $(tail -2 "$work"/*.log)" >&2; exit 1; }
  callgrind_control -z "$p" >/dev/null
done
sleep "$SECS"
for p in "${procs[@]}"; do callgrind_control -d "$p" >/dev/null; done
sleep 2
[ -n "${KEEP:-}" ] && { mkdir -p "$KEEP"; cp "$work"/cg.* "$KEEP"/; }
counts=()
for n in "${names[@]}"; do
  # The dump of the window: the newest numbered file; its `summary:` line is the instructions counted.
  f=$(ls -t "$work/cg.$n".* 2>/dev/null | head -1)
  counts+=("$(awk '/^summary:/{print $2}' "$f")")
done
python3 - "$SECS" "${names[*]}" "${counts[@]}" <<'PY'
import sys
secs, names, counts = int(sys.argv[1]), sys.argv[2].split(), [int(c) for c in sys.argv[3:]]
per = dict(zip(names, (c / secs for c in counts)))
floor = per["floor"]
print(f"{'program':<10} {'instructions per tick':>22} {'x the floor':>12}")
for n in names:
    print(f"{n:<10} {per[n]:>22,.0f} {per[n] / floor:>12.1f}")
if "against" in per:
    print(f"hubble / against: {per['hubble'] / per['against']:.3f}")
PY
