#!/usr/bin/env bash
# Start / stop the real services the test suite talks to: redis-server, PostgreSQL and
# MariaDB, each on loopback on a non-default port with a throwaway data directory, so a
# developer's own servers are never touched.
#
#   scripts/services.sh start [redis|postgres|mariadb ...]   (default: all three)
#   scripts/services.sh stop  [...]
#   scripts/services.sh env          # prints the FSAPP_TEST_* variables the tests read
#
# State lives in $FSAPP_SERVICES_DIR (default /tmp/fsapp-services). The store tests stop
# and restart PostgreSQL mid-test through this same script. `start` also registers the
# ODBC drivers "PostgreSQL Unicode", "MariaDB Unicode" and "SQLite3" if they are missing.
set -euo pipefail

DIR=${FSAPP_SERVICES_DIR:-/tmp/fsapp-services}
REDIS_PORT=${FSAPP_REDIS_PORT:-6390}
PG_PORT=${FSAPP_PG_PORT:-5433}
MARIADB_PORT=${FSAPP_MARIADB_PORT:-3307}
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)

mkdir -p "$DIR"

as_user() {  # run a server as its own unprivileged user when we are root
  local user=$1; shift
  if [ "$(id -u)" = 0 ]; then runuser -u "$user" -- "$@"; else "$@"; fi
}

wait_for() {  # wait_for SECONDS CMD...: poll until CMD succeeds
  local deadline=$(( $(date +%s) + $1 )); shift
  until "$@" >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$deadline" ]; then echo "services: timed out waiting for: $*" >&2; return 1; fi
    sleep 0.2
  done
}

start_redis() {
  if redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then return 0; fi
  mkdir -p "$DIR/redis"
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$DIR/redis" --save '' \
    --appendonly no --daemonize yes --logfile "$DIR/redis/redis.log" --pidfile "$DIR/redis/redis.pid"
  wait_for 10 redis-cli -p "$REDIS_PORT" ping
}
stop_redis() { redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true; }

pg_owner() { if [ "$(id -u)" = 0 ]; then echo postgres; else id -un; fi; }
start_postgres() {
  [ -n "$PG_BIN" ] || { echo "services: PostgreSQL is not installed (apt-get install postgresql)" >&2; return 1; }
  local data="$DIR/pg"
  if [ ! -f "$data/PG_VERSION" ]; then
    mkdir -p "$data"; chown "$(pg_owner)" "$data" 2>/dev/null || true; chmod 700 "$data"
    as_user "$(pg_owner)" "$PG_BIN/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$DIR/pg-initdb.log"
  fi
  if ! as_user "$(pg_owner)" "$PG_BIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    as_user "$(pg_owner)" "$PG_BIN/pg_ctl" -D "$data" -l "$data/server.log" -w -t 30 \
      -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $data -c fsync=off" start >/dev/null
  fi
  wait_for 30 "$PG_BIN/pg_isready" -h 127.0.0.1 -p "$PG_PORT"
  psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc "SELECT 1 FROM pg_roles WHERE rolname='fsapp'" | grep -q 1 \
    || psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -qc "CREATE ROLE fsapp LOGIN SUPERUSER PASSWORD 'fsapp'"
  psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='fsapp_test'" | grep -q 1 \
    || psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -qc "CREATE DATABASE fsapp_test OWNER fsapp"
}
stop_postgres() {
  [ -f "$DIR/pg/PG_VERSION" ] || return 0
  as_user "$(pg_owner)" "$PG_BIN/pg_ctl" -D "$DIR/pg" -m fast -w stop >/dev/null 2>&1 || true
}

mariadb_user() { if [ "$(id -u)" = 0 ]; then echo mysql; else id -un; fi; }
start_mariadb() {
  command -v mariadbd >/dev/null || { echo "services: MariaDB is not installed (apt-get install mariadb-server)" >&2; return 1; }
  local data="$DIR/mariadb"
  if mariadb-admin --protocol=tcp -h 127.0.0.1 -P "$MARIADB_PORT" -u root ping >/dev/null 2>&1; then return 0; fi
  if [ ! -d "$data/mysql" ]; then
    mkdir -p "$data"; chown "$(mariadb_user)" "$data" 2>/dev/null || true
    mariadb-install-db --user="$(mariadb_user)" --datadir="$data" --auth-root-authentication-method=normal \
      --skip-test-db >"$DIR/mariadb-install.log" 2>&1
  fi
  (cd "$DIR" && nohup mariadbd --no-defaults --user="$(mariadb_user)" --datadir="$data" \
      --bind-address=127.0.0.1 --port="$MARIADB_PORT" --socket="$data/mariadb.sock" \
      --pid-file="$data/mariadb.pid" --log-error="$DIR/mariadb.log" \
      --innodb-flush-log-at-trx-commit=2 --skip-name-resolve >/dev/null 2>&1 &)
  wait_for 60 mariadb-admin --protocol=tcp -h 127.0.0.1 -P "$MARIADB_PORT" -u root ping
  mariadb --protocol=tcp -h 127.0.0.1 -P "$MARIADB_PORT" -u root -e \
    "CREATE DATABASE IF NOT EXISTS fsapp_test CHARACTER SET utf8mb4;
     CREATE USER IF NOT EXISTS 'fsapp'@'127.0.0.1' IDENTIFIED BY 'fsapp';
     CREATE USER IF NOT EXISTS 'fsapp'@'localhost' IDENTIFIED BY 'fsapp';
     GRANT ALL ON *.* TO 'fsapp'@'127.0.0.1'; GRANT ALL ON *.* TO 'fsapp'@'localhost'; FLUSH PRIVILEGES;"
}
stop_mariadb() {
  mariadb-admin --protocol=tcp -h 127.0.0.1 -P "$MARIADB_PORT" -u root shutdown >/dev/null 2>&1 || true
}

register_odbc() {  # the ODBC driver names tests, docs and config use; Debian's odbc-mariadb registers none
  # Problems are warnings: starting redis alone must not need ODBC; the store tests then
  # fail with the driver manager's "Can't open lib" naming the missing driver.
  command -v odbcinst >/dev/null || { echo "services: warning: unixodbc is not installed (apt-get install unixodbc)" >&2; return 0; }
  local libdir pair name lib
  libdir=$(ls -d /usr/lib/*/odbc 2>/dev/null | head -n 1)
  for pair in "PostgreSQL Unicode:psqlodbcw.so" "MariaDB Unicode:libmaodbc.so" "SQLite3:libsqlite3odbc.so"; do
    name=${pair%%:*}; lib=${pair#*:}
    odbcinst -q -d -n "$name" >/dev/null 2>&1 && continue
    if [ -z "$libdir" ] || [ ! -f "$libdir/$lib" ]; then
      echo "services: warning: ODBC driver $lib not found (apt-get install odbc-postgresql odbc-mariadb libsqliteodbc)" >&2; continue
    fi
    if [ "$(id -u)" != 0 ]; then
      echo "services: warning: ODBC driver '$name' is not registered; as root: odbcinst -i -d -f <file with [$name] Driver=$libdir/$lib>" >&2
      continue
    fi
    printf '[%s]\nDescription=%s (registered by scripts/services.sh)\nDriver=%s\n' "$name" "$name" "$libdir/$lib" \
      > "$DIR/odbc-driver.ini"
    odbcinst -i -d -f "$DIR/odbc-driver.ini" >/dev/null
  done
}

print_env() {
  cat <<ENV
export FSAPP_SERVICES_DIR=$DIR
export FSAPP_TEST_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0
export FSAPP_TEST_PG_ODBC='Driver={PostgreSQL Unicode};Server=127.0.0.1;Port=$PG_PORT;Database=fsapp_test;Uid=fsapp;Pwd=fsapp'
export FSAPP_TEST_MARIADB_ODBC='Driver={MariaDB Unicode};Server=127.0.0.1;Port=$MARIADB_PORT;Database=fsapp_test;Uid=fsapp;Pwd=fsapp'
ENV
}

cmd=${1:-start}; shift || true
services=("$@"); [ ${#services[@]} -gt 0 ] || services=(redis postgres mariadb)
case "$cmd" in
  start) register_odbc; for s in "${services[@]}"; do "start_$s"; done; print_env > "$DIR/env" ;;
  stop) for s in "${services[@]}"; do "stop_$s"; done ;;
  restart) for s in "${services[@]}"; do "stop_$s"; "start_$s"; done ;;
  env) print_env ;;
  *) echo "usage: $0 start|stop|restart|env [redis|postgres|mariadb ...]" >&2; exit 2 ;;
esac
