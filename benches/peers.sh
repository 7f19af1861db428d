#!/usr/bin/env bash
# Macro benchmark: hubble's Postgres exporter beside postgres_exporter, sql_exporter, query-exporter and nginx
# serving the same bytes, on one throwaway PostgreSQL with the same four queries, driven by wrk.
# Usage: benches/peers.sh [TABLES] [SECONDS]        (defaults 2500 tables ≈ 10k series, 10 s per wrk run)
# Needs the shared peer harness (BENCH_DIR, default ../shared/bench) and its Debian/PyPI packages (see its README).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bench=${BENCH_DIR:-$root/../shared/bench}
[ -x "$bench/run.sh" ] || { echo "peer harness not found at $bench (set BENCH_DIR)" >&2; exit 1; }
cargo build --release --bin postgres_exporter --manifest-path "$root/Cargo.toml"
bin=$root/target/release/postgres_exporter
queries=$bench/peers/postgres_exporter_queries.yaml
export EXTRA_PEERS="hubble|$bin --dsn postgresql://postgres@127.0.0.1:@PGPORT@/bench?sslmode=disable --web.listen-address 127.0.0.1:@PORT@ --disable-default-metrics --extend.query-path $queries --collection.interval 15s --collection.max-series 1000000 --log.level warn|n_live_tup"
exec "$bench/run.sh" "${1:-2500}" "${2:-10}"
