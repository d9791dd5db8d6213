#!/bin/sh
# Builds Slipway's offline Docker test images (no registry access needed):
#   slipway-test/busybox  a root fs of Debian's busybox-static (/bin/busybox + symlinks)
#   slipway-test/node     busybox + the host's node binary + the libraries ldd lists + /etc/passwd
#   slipway-test/app      FROM slipway-test/node: test/docker/app/server.mjs (version and health
#                         behaviour set by env / build args)
#   slipway-test/redis    busybox + the host's redis-server and redis-cli (a real stateful service)
# Idempotent: an image is rebuilt only when missing or when its inputs changed (a content hash
# is stored in the label slipway.test.inputs). Usage: scripts/build-test-images.sh [--force]
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
FORCE=${1:-}
BUSYBOX=${BUSYBOX:-/bin/busybox}
NODE_BIN=$(readlink -f "$(command -v node)")
# Concurrent test workers may call this at once: one build at a time.
if command -v flock >/dev/null 2>&1; then
  exec 9>"${TMPDIR:-/tmp}/slipway-test-images.lock"
  flock 9
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/slipway-images-XXXXXX")
trap 'rm -rf "$WORK"' EXIT INT TERM

need() { command -v "$1" >/dev/null 2>&1 || { echo "build-test-images: $1 is required" >&2; exit 1; }; }
need docker
need sha256sum
[ -x "$BUSYBOX" ] || { echo "build-test-images: $BUSYBOX not found (apt-get install busybox-static)" >&2; exit 1; }
if ! "$BUSYBOX" --list >/dev/null 2>&1; then echo "build-test-images: $BUSYBOX is not busybox" >&2; exit 1; fi

# The hash of the inputs of an image; the image is up to date when its label matches.
current() { docker image inspect -f '{{ index .Config.Labels "slipway.test.inputs" }}' "$1" 2>/dev/null || true; }
uptodate() { [ "$FORCE" != "--force" ] && [ "$(current "$1")" = "$2" ]; }

busybox_root() {
  dir=$1
  mkdir -p "$dir/bin" "$dir/etc" "$dir/tmp" "$dir/proc" "$dir/sys" "$dir/dev" "$dir/root" "$dir/app"
  chmod 1777 "$dir/tmp"
  cp "$BUSYBOX" "$dir/bin/busybox"
  for applet in $("$BUSYBOX" --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$dir/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$dir/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$dir/etc/group"
  printf 'hosts: files dns\n' >"$dir/etc/nsswitch.conf"
}

# --- slipway-test/busybox -----------------------------------------------------------------
BB_HASH=$( (sha256sum "$BUSYBOX"; echo v1) | sha256sum | cut -c1-16)
if uptodate slipway-test/busybox "$BB_HASH"; then
  echo "slipway-test/busybox: up to date"
else
  busybox_root "$WORK/busybox"
  tar -C "$WORK/busybox" -c . | docker import \
    -c 'ENV PATH=/bin' -c 'CMD ["sh"]' -c "LABEL slipway.test.inputs=$BB_HASH" - slipway-test/busybox:latest >/dev/null
  echo "slipway-test/busybox: built"
fi

# --- slipway-test/node ----------------------------------------------------------------------
LIBS=$(ldd "$NODE_BIN" | awk '/=>/ { print $3 } /^[[:space:]]*\/.* \(0x/ { print $1 }' | sort -u)
NODE_HASH=$( (sha256sum "$BUSYBOX"; ls -l "$NODE_BIN"; for l in $LIBS; do ls -lL "$l"; done; echo v1) | sha256sum | cut -c1-16)
if uptodate slipway-test/node "$NODE_HASH"; then
  echo "slipway-test/node: up to date"
else
  busybox_root "$WORK/node"
  mkdir -p "$WORK/node/usr/bin"
  cp "$NODE_BIN" "$WORK/node/usr/bin/node"
  for l in $LIBS; do
    mkdir -p "$WORK/node$(dirname "$l")"
    cp -L "$l" "$WORK/node$l"
  done
  tar -C "$WORK/node" -c . | docker import \
    -c 'ENV PATH=/usr/bin:/bin' -c 'WORKDIR /app' -c 'CMD ["node"]' \
    -c "LABEL slipway.test.inputs=$NODE_HASH" - slipway-test/node:latest >/dev/null
  echo "slipway-test/node: built"
fi

# --- slipway-test/redis ---------------------------------------------------------------------
if command -v redis-server >/dev/null 2>&1; then
  REDIS_BIN=$(readlink -f "$(command -v redis-server)")
  CLI_BIN=$(readlink -f "$(command -v redis-cli)")
  RLIBS=$(ldd "$REDIS_BIN" "$CLI_BIN" | awk '/=>/ { print $3 } /^[[:space:]]*\/.* \(0x/ { print $1 }' | sort -u)
  REDIS_HASH=$( (sha256sum "$BUSYBOX"; ls -l "$REDIS_BIN" "$CLI_BIN"; for l in $RLIBS; do ls -lL "$l"; done; echo v1) | sha256sum | cut -c1-16)
  if uptodate slipway-test/redis "$REDIS_HASH"; then
    echo "slipway-test/redis: up to date"
  else
    busybox_root "$WORK/redis"
    mkdir -p "$WORK/redis/usr/bin" "$WORK/redis/data"
    # redis-server is a link to one binary that dispatches on its name.
    cp "$REDIS_BIN" "$WORK/redis/usr/bin/$(basename "$REDIS_BIN")"
    [ "$(basename "$REDIS_BIN")" = redis-server ] || ln -s "$(basename "$REDIS_BIN")" "$WORK/redis/usr/bin/redis-server"
    cp "$CLI_BIN" "$WORK/redis/usr/bin/redis-cli"
    for l in $RLIBS; do
      mkdir -p "$WORK/redis$(dirname "$l")"
      cp -L "$l" "$WORK/redis$l"
    done
    tar -C "$WORK/redis" -c . | docker import \
      -c 'ENV PATH=/usr/bin:/bin' -c 'WORKDIR /data' -c 'EXPOSE 6379' \
      -c 'CMD ["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no", "--dir", "/data", "--appendonly", "yes"]' \
      -c "LABEL slipway.test.inputs=$REDIS_HASH" - slipway-test/redis:latest >/dev/null
    echo "slipway-test/redis: built"
  fi
fi

# --- slipway-test/postgres ------------------------------------------------------------------
# busybox + the host's PostgreSQL server, initdb and psql (Debian's /usr/lib/postgresql/N) with the
# libraries ldd lists; the entrypoint initialises $PGDATA on first start (POSTGRES_USER,
# POSTGRES_PASSWORD, POSTGRES_DB as the postgres image reads them) and runs the server as `postgres`.
PG_DIR=$(ls -d /usr/lib/postgresql/*/ 2>/dev/null | sort -V | tail -n 1)
if [ -n "$PG_DIR" ] && [ -x "${PG_DIR}bin/postgres" ]; then
  PG_VER=$(basename "$PG_DIR")
  PG_SHARE=/usr/share/postgresql/$PG_VER
  PLIBS=$(ldd "${PG_DIR}bin/postgres" "${PG_DIR}bin/initdb" "${PG_DIR}bin/psql" "${PG_DIR}bin/pg_isready" "${PG_DIR}"lib/*.so 2>/dev/null \
    | awk '/=>/ { print $3 } /^[[:space:]]*\/.* \(0x/ { print $1 }' | grep '^/' | sort -u)
  PG_HASH=$( (sha256sum "$BUSYBOX"; ls -l "${PG_DIR}bin/postgres"; for l in $PLIBS; do ls -lL "$l"; done; echo v3) | sha256sum | cut -c1-16)
  if uptodate slipway-test/postgres "$PG_HASH"; then
    echo "slipway-test/postgres: up to date"
  else
    busybox_root "$WORK/pg"
    printf 'postgres:x:70:70:postgres:/var/lib/postgresql:/bin/sh\n' >>"$WORK/pg/etc/passwd"
    printf 'postgres:x:70:\n' >>"$WORK/pg/etc/group"
    mkdir -p "$WORK/pg$PG_DIR" "$WORK/pg$PG_SHARE" "$WORK/pg/usr/share" "$WORK/pg/var/lib/postgresql/data" "$WORK/pg/var/run/postgresql"
    cp -a "$PG_DIR." "$WORK/pg$PG_DIR"
    cp -a "$PG_SHARE/." "$WORK/pg$PG_SHARE"
    [ -d /usr/share/zoneinfo ] && cp -a /usr/share/zoneinfo "$WORK/pg/usr/share/zoneinfo"
    for l in $PLIBS; do
      mkdir -p "$WORK/pg$(dirname "$l")"
      cp -L "$l" "$WORK/pg$l"
    done
    chown -R 70:70 "$WORK/pg/var/lib/postgresql" "$WORK/pg/var/run/postgresql"
    mkdir -p "$WORK/pg/usr/local/bin"
    cat >"$WORK/pg/usr/local/bin/docker-entrypoint.sh" <<'SH'
#!/bin/sh
set -e
: "${PGDATA:=/var/lib/postgresql/data}" "${POSTGRES_USER:=postgres}" "${POSTGRES_DB:=$POSTGRES_USER}"
mkdir -p "$PGDATA" && chown -R postgres:postgres "$PGDATA" && chmod 700 "$PGDATA"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  echo "${POSTGRES_PASSWORD:-postgres}" >/tmp/pwfile && chown postgres /tmp/pwfile
  su postgres -c "initdb -D '$PGDATA' -U '$POSTGRES_USER' --pwfile=/tmp/pwfile --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C --no-sync" >/dev/null
  rm -f /tmp/pwfile
  echo "host all all 0.0.0.0/0 scram-sha-256" >>"$PGDATA/pg_hba.conf"
  su postgres -c "postgres -D '$PGDATA' -c listen_addresses='' -k /tmp" & pid=$!
  until su postgres -c "psql -h /tmp -U '$POSTGRES_USER' -d postgres -qAtc 'SELECT 1'" >/dev/null 2>&1; do sleep 0.2; done
  if [ "$POSTGRES_DB" != postgres ]; then
    su postgres -c "psql -h /tmp -U '$POSTGRES_USER' -d postgres -qc 'CREATE DATABASE \"$POSTGRES_DB\"'"
  fi
  kill -INT $pid; wait $pid || true
fi
exec su postgres -c "exec postgres -D '$PGDATA' -c listen_addresses='*' -k /tmp"
SH
    chmod 755 "$WORK/pg/usr/local/bin/docker-entrypoint.sh"
    tar -C "$WORK/pg" -c . | docker import \
      -c "ENV PATH=${PG_DIR}bin:/usr/bin:/bin PGDATA=/var/lib/postgresql/data" -c 'EXPOSE 5432' \
      -c 'CMD ["/usr/local/bin/docker-entrypoint.sh"]' \
      -c "LABEL slipway.test.inputs=$PG_HASH" - slipway-test/postgres:latest >/dev/null
    echo "slipway-test/postgres: built"
  fi
fi

# --- slipway-test/app -----------------------------------------------------------------------
APP_DIR="$ROOT/test/docker/app"
APP_HASH=$( (echo "$NODE_HASH"; cat "$APP_DIR/Dockerfile" "$APP_DIR/server.mjs") | sha256sum | cut -c1-16)
if uptodate slipway-test/app "$APP_HASH"; then
  echo "slipway-test/app: up to date"
else
  docker build -q --label "slipway.test.inputs=$APP_HASH" -t slipway-test/app:latest "$APP_DIR" >/dev/null
  echo "slipway-test/app: built"
fi
