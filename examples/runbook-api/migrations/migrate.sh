#!/bin/sh
# The API's migration tool (psql, no dependencies). Migrations are migrations/<version>.up.sql and
# .down.sql; schema_versions records what is applied.
#   up      apply every migration up to the release's version ($SLIPWAY_VERSION), oldest first
#   down    revert the migration of $SLIPWAY_VERSION (rollback --with-db runs it from that
#           release), or every migration newer than $MIGRATE_TO (slipway migrate ENV down --to V)
#   status  list the applied versions
set -eu
cd "$(dirname "$0")"
PSQL="psql $DATABASE_URL -v ON_ERROR_STOP=1 -q -At"
$PSQL -c "CREATE TABLE IF NOT EXISTS schema_versions (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
applied() { $PSQL -c "SELECT 1 FROM schema_versions WHERE version = '$1'" | grep -q 1; }
versions() { ls ./*.up.sql | sed 's|^\./||; s|\.up\.sql$||' | sort -V; }
newer() { [ "$1" != "$2" ] && [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | tail -1)" = "$1" ]; }
case "${1:-}" in
  up)
    for v in $(versions); do
      if newer "$v" "$SLIPWAY_VERSION" || applied "$v"; then continue; fi
      # One transaction per migration: the file and its schema_versions row together.
      $PSQL -1 -f "$v.up.sql" -c "INSERT INTO schema_versions (version) VALUES ('$v')"
      echo "applied $v"
    done ;;
  down)
    for v in $(versions | sort -rV); do
      if [ -n "${MIGRATE_TO:-}" ]; then newer "$v" "$MIGRATE_TO" || continue
      elif [ "$v" != "$SLIPWAY_VERSION" ]; then continue; fi
      applied "$v" || continue
      $PSQL -1 -f "$v.down.sql" -c "DELETE FROM schema_versions WHERE version = '$v'"
      echo "reverted $v"
    done ;;
  status)
    echo "release: $SLIPWAY_VERSION"
    echo "applied: $($PSQL -c "SELECT string_agg(version, ' ' ORDER BY applied_at) FROM schema_versions")" ;;
  *) echo "usage: migrate.sh up|down|status" >&2; exit 2 ;;
esac
