# shellcheck shell=bash
# Helpers shared by ops/up, ops/down, ops/env, ops/test, ops/bench and ops/runledger. Source it; do not run it.
[[ -n "${RUNLEDGER_COMMON_LOADED:-}" ]] && return 0
RUNLEDGER_COMMON_LOADED=1

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LOG_TAG="${LOG_TAG:-ops}"

# ---------------------------------------------------------------------------
# logging
log()  { printf '%(%F %T)T [%s] %s\n' -1 "$LOG_TAG" "$*" >&2; }
warn() { log "WARNING: $*"; }
die()  { log "ERROR: $*"; exit 1; }

# Print the last lines of each given log file that exists (to stderr), for failure reports.
show_log_tail() {
  local f
  for f in "$@"; do
    [[ -s "$f" ]] || continue
    printf -- '----- last 40 lines of %s -----\n' "$f" >&2
    tail -n 40 "$f" >&2
    printf -- '----- end of %s -----\n' "$f" >&2
  done
}

# Seconds since the epoch with millisecond precision, and "N.Ns since T".
now_s()     { date +%s.%N; }
elapsed_s() { awk -v a="$1" -v b="$(now_s)" 'BEGIN { printf "%.1f", b - a }'; }

# ---------------------------------------------------------------------------
# processes

# True when PID is a running (not zombie) process.
proc_running() {
  local pid=$1 stat
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  stat=${stat##*) }            # fields after "pid (comm) ", starting at field 3 (state)
  [[ "${stat%% *}" != Z && "${stat%% *}" != X ]]
}

# pid_alive PIDFILE: true when the pid file names a running process that was started
# before the pid file was written (a pid reused after a reboot does not count).
pid_alive() {
  local pidfile=$1 pid stat btime tck start_epoch
  [[ -s "$pidfile" ]] || return 1
  pid=$(<"$pidfile")
  proc_running "$pid" || return 1
  stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  # shellcheck disable=SC2086
  set -- $stat                  # $20 = field 22 = start time in clock ticks since boot
  btime=$(awk '/^btime/ { print $2 }' /proc/stat)
  tck=$(getconf CLK_TCK)
  start_epoch=$(( btime + ${20} / tck ))
  (( start_epoch <= $(stat -c %Y "$pidfile") + 2 ))
}

# wait_until TIMEOUT_S [PIDFILE] -- CMD...: poll CMD every 0.25 s until it succeeds.
# Fails early when PIDFILE is given and its process has died.
wait_until() {
  local timeout=$1 pidfile=; shift
  if [[ "$1" != -- ]]; then pidfile=$1; shift; fi
  shift # --
  local deadline=$(( SECONDS + timeout ))
  while ! "$@"; do
    if [[ -n "$pidfile" ]] && ! pid_alive "$pidfile"; then return 2; fi
    (( SECONDS < deadline )) || return 1
    sleep 0.25
  done
}

# port_open HOST PORT: true when a TCP connection to HOST:PORT succeeds.
# shellcheck disable=SC2016  # $0/$1 expand in the child bash
port_open() { timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null; }

# wait_for_port HOST PORT TIMEOUT_S [PIDFILE]
wait_for_port() { wait_until "$3" "${4:-}" -- port_open "$1" "$2"; }

# start_bg NAME PIDFILE LOGFILE CMD...: start CMD detached (own session, no stdin, output
# appended to LOGFILE) and write its pid to PIDFILE. Does nothing if PIDFILE is alive.
start_bg() {
  local name=$1 pidfile=$2 logfile=$3; shift 3
  if pid_alive "$pidfile"; then
    log "$name already running (pid $(<"$pidfile"))"
    return 0
  fi
  mkdir -p "$(dirname "$pidfile")" "$(dirname "$logfile")"
  printf '===== %(%F %T)T starting %s: %s\n' -1 "$name" "$*" >>"$logfile"
  # Without job control a background job is not a process-group leader, so setsid
  # calls setsid() and execs in place: $! is the pid of CMD itself.
  setsid nohup "$@" >>"$logfile" 2>&1 </dev/null &
  echo "$!" >"$pidfile"
  log "started $name (pid $!), log: $logfile"
}

# stop_pidfile PIDFILE [TIMEOUT_S]: SIGTERM (to the process group when the process leads
# one), wait up to TIMEOUT_S (default 15), then SIGKILL. Removes PIDFILE.
stop_pidfile() {
  local pidfile=$1 timeout=${2:-15} pid target
  if ! pid_alive "$pidfile"; then rm -f "$pidfile"; return 0; fi
  pid=$(<"$pidfile")
  target=$pid
  [[ "$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ')" == "$pid" ]] && target=-$pid
  log "stopping $(basename "$pidfile" .pid) (pid $pid)"
  kill -TERM -- "$target" 2>/dev/null || true
  if ! wait_until "$timeout" -- eval '! proc_running '"$pid"; then
    warn "pid $pid still running after ${timeout}s, sending SIGKILL"
    kill -KILL -- "$target" 2>/dev/null || true
    wait_until 10 -- eval '! proc_running '"$pid" || die "could not kill pid $pid"
  fi
  rm -f "$pidfile"
}

# ---------------------------------------------------------------------------
# npm dependencies
ensure_node_modules() {
  if [[ ! -d "$ROOT/node_modules" || "$ROOT/package-lock.json" -nt "$ROOT/node_modules/.package-lock.json" ]]; then
    log "installing npm dependencies (npm ci)"
    (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error) >&2
  else
    log "node_modules up to date"
  fi
}

# server_build: compiles the server's processes to dist/*.js (ops/build-server.ts),
# which ops/up and the tests run with plain node. Under a second: always rebuilt.
server_build() {
  log "building the server (ops/build-server.ts → dist/)"
  (cd "$ROOT" && node --import tsx ops/build-server.ts) >&2 || die "the server build failed"
}

# ---------------------------------------------------------------------------
# The stack's environment: the one place for ports, URLs and directories.
#
# export_stack_env dev|test exports the app contract (RUNLEDGER_HOST, _PORT, _PG_URL,
# _KAFKA_BROKERS, _CLICKHOUSE_URL, _CLICKHOUSE_DB, _JWT_SECRET, _STATE_DIR, _BLOB_DIR)
# plus the service ports the ops scripts use (RUNLEDGER_KAFKA_PORT,
# _KAFKA_CONTROLLER_PORT, _CLICKHOUSE_HTTP_PORT, _CLICKHOUSE_TCP_PORT).
#
# dev ports can be overridden with those same variable names (and RUNLEDGER_HOST/_PORT/
# _PG_URL/_CLICKHOUSE_DB). test deliberately ignores them (a shell that ran
# `source ops/env` must not point the tests at the dev stack); override test values
# with RUNLEDGER_TEST_KAFKA_PORT, RUNLEDGER_TEST_KAFKA_CONTROLLER_PORT,
# RUNLEDGER_TEST_CLICKHOUSE_HTTP_PORT, RUNLEDGER_TEST_CLICKHOUSE_TCP_PORT,
# RUNLEDGER_TEST_PORT, RUNLEDGER_TEST_PG_URL.
STACK_ENV_VARS=(
  RUNLEDGER_HOST RUNLEDGER_PORT RUNLEDGER_PG_URL RUNLEDGER_KAFKA_BROKERS
  RUNLEDGER_CLICKHOUSE_URL RUNLEDGER_CLICKHOUSE_DB RUNLEDGER_JWT_SECRET RUNLEDGER_BLOB_SIGNING_SECRET
  RUNLEDGER_STATE_DIR RUNLEDGER_BLOB_DIR
  RUNLEDGER_KAFKA_PORT RUNLEDGER_KAFKA_CONTROLLER_PORT
  RUNLEDGER_CLICKHOUSE_HTTP_PORT RUNLEDGER_CLICKHOUSE_TCP_PORT
)

# stack_secret FILE: print the secret kept in FILE, generating it on first use.
stack_secret() {
  local file=$1
  if [[ ! -s "$file" ]]; then
    mkdir -p "$(dirname "$file")"
    (umask 077 && openssl rand -hex 32 >"$file.tmp" && mv "$file.tmp" "$file")
    log "generated a secret in $file"
  fi
  cat "$file"
}

# Directory of a stack's state (.state/dev or .state/test).
stack_state_dir() { printf '%s/.state/%s' "$ROOT" "$1"; }

export_stack_env() {
  local mode=${1:?dev or test} state
  state=$(stack_state_dir "$mode")
  case "$mode" in
    dev)
      export RUNLEDGER_HOST="${RUNLEDGER_HOST:-127.0.0.1}"
      export RUNLEDGER_PORT="${RUNLEDGER_PORT:-4000}"
      export RUNLEDGER_PG_URL="${RUNLEDGER_PG_URL:-postgres://postgres@127.0.0.1:5432/runledger}"
      export RUNLEDGER_CLICKHOUSE_DB="${RUNLEDGER_CLICKHOUSE_DB:-runledger}"
      export RUNLEDGER_KAFKA_PORT="${RUNLEDGER_KAFKA_PORT:-9092}"
      export RUNLEDGER_KAFKA_CONTROLLER_PORT="${RUNLEDGER_KAFKA_CONTROLLER_PORT:-9093}"
      export RUNLEDGER_CLICKHOUSE_HTTP_PORT="${RUNLEDGER_CLICKHOUSE_HTTP_PORT:-8123}"
      export RUNLEDGER_CLICKHOUSE_TCP_PORT="${RUNLEDGER_CLICKHOUSE_TCP_PORT:-9000}"
      RUNLEDGER_JWT_SECRET="$(stack_secret "$state/jwt-secret")"
      RUNLEDGER_BLOB_SIGNING_SECRET="$(stack_secret "$state/blob-signing-secret")"
      export RUNLEDGER_JWT_SECRET RUNLEDGER_BLOB_SIGNING_SECRET
      ;;
    test)
      export RUNLEDGER_HOST=127.0.0.1
      export RUNLEDGER_PORT="${RUNLEDGER_TEST_PORT:-14000}"
      # Admin URL: the test setup creates its own databases.
      export RUNLEDGER_PG_URL="${RUNLEDGER_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
      export RUNLEDGER_CLICKHOUSE_DB=runledger_test
      export RUNLEDGER_KAFKA_PORT="${RUNLEDGER_TEST_KAFKA_PORT:-19092}"
      export RUNLEDGER_KAFKA_CONTROLLER_PORT="${RUNLEDGER_TEST_KAFKA_CONTROLLER_PORT:-19093}"
      export RUNLEDGER_CLICKHOUSE_HTTP_PORT="${RUNLEDGER_TEST_CLICKHOUSE_HTTP_PORT:-18123}"
      export RUNLEDGER_CLICKHOUSE_TCP_PORT="${RUNLEDGER_TEST_CLICKHOUSE_TCP_PORT:-19000}"
      export RUNLEDGER_JWT_SECRET=runledger-test-secret-not-for-production-0123456789abcdef
      export RUNLEDGER_BLOB_SIGNING_SECRET=runledger-test-blob-secret-not-for-production-0123456789
      ;;
    *) die "export_stack_env: unknown mode '$mode' (dev or test)" ;;
  esac
  export RUNLEDGER_KAFKA_BROKERS="127.0.0.1:$RUNLEDGER_KAFKA_PORT"
  export RUNLEDGER_CLICKHOUSE_URL="http://127.0.0.1:$RUNLEDGER_CLICKHOUSE_HTTP_PORT"
  export RUNLEDGER_STATE_DIR="$state"
  export RUNLEDGER_BLOB_DIR="$state/blobs"
}

# Print the stack env as shell `export` lines (after export_stack_env).
print_stack_env() {
  local v
  for v in "${STACK_ENV_VARS[@]}"; do printf 'export %s=%q\n' "$v" "${!v}"; done
}
