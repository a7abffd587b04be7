# shellcheck shell=bash disable=SC2034  # sourced; its variables are used by the callers
# Shared by bench/realtime/run and bench/chat/run (sourced after scripts/lib/common.sh):
# private services, a fresh seeded database, one node at a time.
#
#   bench_setup NAME   after BIN, COMM, OUT (absolute) are set: starts PostgreSQL and
#                      Redis from scripts/services (state $TANDEM_BENCH_STATE, else
#                      .local/bench; stopped on exit unless $TANDEM_BENCH_STATE was given),
#                      exports the node's environment for database tandem_bench_NAME.
#   seed USERS psql-variables...   fresh database seeded by bench/social/seed.sql, and
#                      $OUT/tokens.tsv with every user's token.
#   start_node LOGNAME [NAME=VALUE...] / stop_node LOG / machine
SOCIAL=$ROOT/bench/social
node_pid=""
bench_cleanup_hooks=()
# shellcheck disable=SC2317  # run by the EXIT trap
bench_cleanup() {
  [[ -z $node_pid ]] || stop_pid "$node_pid" "$COMM" 20
  local h
  for h in "${bench_cleanup_hooks[@]}"; do "$h" || true; done
  [[ -n ${TANDEM_BENCH_STATE:-} ]] || "${svc[@]}" stop >/dev/null 2>&1 || true
}

bench_setup() {
  STATE=${TANDEM_BENCH_STATE:-$ROOT/.local/bench}
  svc=("$SCRIPTS/services" --state "$STATE")
  trap bench_cleanup EXIT
  "${svc[@]}" start >&2
  eval "$("${svc[@]}" env test)"          # TANDEM_TEST_PG_DSN: the admin connection
  db=tandem_bench_$1
  export TANDEM_DB_DSN="$TANDEM_TEST_PG_DSN dbname=$db"
  export TANDEM_REDIS_HOST=$TANDEM_TEST_REDIS_HOST TANDEM_REDIS_PORT=$TANDEM_TEST_REDIS_PORT
  export TANDEM_LOG_REQUESTS=false TANDEM_LOG_LEVEL=warn
  # Every socket of a run is open at once: past http.max_connections (1000 by default)
  # the rest would be answered 503.
  export TANDEM_HTTP_MAX_CONNECTIONS=${TANDEM_HTTP_MAX_CONNECTIONS:-100000}
  export TANDEM_AUTH_JWT_KEY="bench-$1-$RANDOM-$RANDOM-key-not-secret-0123456789"
}

seed() {
  local users=$1; shift
  psql "$TANDEM_TEST_PG_DSN" -qv ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $db" \
    -c "CREATE DATABASE $db" >&2
  "$BIN" migrate >/dev/null
  say "seeding $users users ($*)"
  psql "$TANDEM_DB_DSN" -qv ON_ERROR_STOP=1 -v users="$users" "$@" -f "$SOCIAL/seed.sql" >&2
  python3 "$SOCIAL/tokens.py" "$TANDEM_AUTH_JWT_KEY" "$users" tsv >"$OUT/tokens.tsv"
}

# start_node LOGNAME [NAME=VALUE...]: a node on a free port with the given extra environment.
start_node() {
  local log=$OUT/$1.log; shift
  TANDEM_HTTP_PORT=$(free_ports 1)
  url=http://127.0.0.1:$TANDEM_HTTP_PORT
  env "$@" TANDEM_HTTP_PORT="$TANDEM_HTTP_PORT" "$BIN" serve </dev/null >"$log" 2>&1 &
  node_pid=$!
  wait_ready "$url" "$node_pid" 60 || { tail -20 "$log" >&2; die "the node did not start"; }
}
stop_node() {
  local log=$1 rc=0
  if ! pid_is "$node_pid" "$COMM"; then
    wait "$node_pid" || rc=$?
    say "THE NODE DIED during the run (exit status $rc); last lines of $log:"
    tail -20 "$log" >&2
  else
    stop_pid "$node_pid" "$COMM" 20
    wait "$node_pid" 2>/dev/null || rc=$?
    ((rc == 0)) || say "the node exited with status $rc on SIGTERM ($log)"
  fi
  node_pid=""
  if grep -qiE '"level":"(error|critical)"|terminate|abort|sanitizer' "$log"; then
    say "errors in $log:"; grep -iE '"level":"(error|critical)"|terminate|abort|sanitizer' "$log" | head -5 >&2
  fi
}
machine() {
  echo "machine: $(nproc) CPU $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)," \
    "$(free -g | awk '/^Mem/ {print $2}') GiB, $(uname -r); load average $(cut -d' ' -f1-3 /proc/loadavg)"
}
