# shellcheck shell=bash disable=SC2034  # sourced; its variables are used by the callers
# Shared helpers for the scripts in scripts/ (sourced, not run).
# Script-only variables use prefixes that are not config sections (TANDEM_BUILD_DIR,
# TANDEM_PG_PORT, ...): TANDEM_<HTTP|WS|SCHEDULER|DB|REDIS|LOG>_* must be real keys.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
SCRIPTS=$ROOT/scripts
BUILD=${TANDEM_BUILD_DIR:-build}
[[ $BUILD == /* ]] || BUILD=$ROOT/$BUILD
BIN=$BUILD/tandem
BUILD_SANITIZE=$BUILD-asan            # scripts/build --sanitize: ASan + UBSan + fuzz targets
BUILD_DEBUG=$BUILD-debug              # scripts/build --debug: -O0 -g for fast local builds
PROG=${PROG:-$(basename "$0")}
# PostgreSQL 15's own programs (postgresql-15): Debian keeps initdb and pg_ctl off PATH, and
# /usr/bin's psql and pg_dump are wrappers that pick a version by installed cluster.
PG_BIN=/usr/lib/postgresql/15/bin

say() { echo "$PROG: $*" >&2; }
die() { echo "$PROG: error: $*" >&2; exit 1; }

# pg_durability DSN on|reset: a benchmark's PostgreSQL made durable (fsync,
# synchronous_commit and full_page_writes on; scripts/services creates its clusters with
# them off), or back to the cluster's own configuration.
pg_durability() {
  local dsn=$1 mode=$2 name sql=()
  for name in fsync synchronous_commit full_page_writes; do
    if [[ $mode == on ]]; then sql+=(-c "ALTER SYSTEM SET $name = on"); else sql+=(-c "ALTER SYSTEM RESET $name"); fi
  done
  psql "$dsn" -qAtX -v ON_ERROR_STOP=1 "${sql[@]}" -c "SELECT pg_reload_conf()" >/dev/null
}

# pid_is PID [NAME]: PID is a live (not zombie) process, named NAME if given (the name
# guards against a reused PID).
pid_is() {
  [[ $1 =~ ^[0-9]+$ && -r /proc/$1/status ]] || return 1
  [[ -z ${2:-} || $(cat "/proc/$1/comm" 2>/dev/null) == "$2" ]] || return 1
  ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# free_ports N [EXCLUDE...]: N distinct loopback ports that a bind succeeds on.
free_ports() {
  python3 - "$@" <<'PY'
import random, socket, sys
n, exclude, out = int(sys.argv[1]), set(sys.argv[2:]), []
for _ in range(5000):
    p = random.randint(20000, 32000)
    if str(p) in exclude or p in out:
        continue
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", p))
        except OSError:
            continue
    out.append(p)
    if len(out) == n:
        print(*out)
        sys.exit(0)
sys.exit("no free port found")
PY
}

# port_free PORT: a bind on 127.0.0.1:PORT succeeds right now. SO_REUSEADDR as the
# servers use it, so that the TIME_WAIT connections of a just-stopped server don't count.
port_free() {
  python3 -c 'import socket,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1])))' "$1" \
    2>/dev/null
}

# wait_ready URL PID [SECONDS]: until GET URL/readyz is 200; fails early if PID dies.
wait_ready() {
  local deadline=$((SECONDS + ${3:-60}))
  while ((SECONDS < deadline)); do
    curl -fsS -o /dev/null --max-time 2 "$1/readyz" 2>/dev/null && return 0
    pid_is "$2" || return 1
    sleep 0.25
  done
  return 1
}

# stop_pid PID NAME [SECONDS]: SIGTERM, wait, then SIGKILL; no-op if not our process.
stop_pid() {
  local deadline=$((SECONDS + ${3:-15}))
  pid_is "$1" "$2" || return 0
  kill -TERM "$1" 2>/dev/null || true
  while pid_is "$1" "$2" && ((SECONDS < deadline)); do sleep 0.1; done
  if pid_is "$1" "$2"; then
    say "$2 (pid $1) ignored SIGTERM, killing it"
    kill -KILL "$1" 2>/dev/null || true
  fi
  while pid_is "$1" "$2" && ((SECONDS < deadline + 5)); do sleep 0.1; done
}

# db_dsn: the database of scripts/backup and scripts/restore: $TANDEM_DB_DSN (a libpq
# connection string, as the node's db.dsn), else the one scripts/local runs.
db_dsn() {
  if [[ -n ${TANDEM_DB_DSN:-} ]]; then echo "$TANDEM_DB_DSN"; return; fi
  [[ -f $ROOT/.local/local/ports ]] \
    || die "TANDEM_DB_DSN is not set and scripts/local has never started here: set TANDEM_DB_DSN"
  (eval "$("$SCRIPTS/services" --state "$ROOT/.local/local" env node)" && echo "$TANDEM_DB_DSN")
}
