#!/usr/bin/env bash
# Soak: the load test (64 keep-alive scrapers against ~1,000 series, collections every 300 ms) for longer,
# on a release build. Usage: scripts/soak.sh [seconds]   (default 3600). Needs what scripts/test.sh installs.
# Prints scrapes/s and RSS after warm-up, at the end and at peak; fails on any failed request or >10% growth.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-3600}"
HUBBLE_LOAD_SECONDS="$seconds" cargo test --release --locked -p postgres_exporter --test load -- --ignored --nocapture
