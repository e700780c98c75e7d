# shellcheck shell=bash
# ClickHouse (Debian's 18.16 package) run as a plain process with our own config.
# Source after common.sh.

# clickhouse_bin: print the command that runs the server (clickhouse-server, or the
# multi-call `clickhouse server`).
# Debian puts clickhouse-server in /usr/sbin, which a non-root PATH may lack.
clickhouse_bin() {
  local b
  for b in clickhouse-server /usr/sbin/clickhouse-server /usr/bin/clickhouse-server; do
    command -v "$b" >/dev/null && { command -v "$b"; return 0; }
  done
  for b in clickhouse /usr/bin/clickhouse; do
    command -v "$b" >/dev/null && { echo "$(command -v "$b") server"; return 0; }
  done
  return 1
}

# Run apt-get as root (directly, or through sudo when not root).
_apt_get() {
  if (( EUID == 0 )); then DEBIAN_FRONTEND=noninteractive apt-get "$@"
  elif command -v sudo >/dev/null; then sudo DEBIAN_FRONTEND=noninteractive apt-get "$@"
  else die "apt-get $* needs root (no sudo)"; fi
}

# clickhouse_install: install clickhouse-server + clickhouse-client from Debian when the
# server binary is missing. `apt-get update` runs only when apt does not know the package
# or the install fails with the current package lists.
clickhouse_install() {
  local t0 updated=0 pkglog
  if clickhouse_bin >/dev/null; then
    log "ClickHouse present ($(clickhouse_bin))"
    return 0
  fi
  t0=$(now_s)
  pkglog="$(mktemp /tmp/runledger-apt.XXXXXX)"
  if ! apt-cache show clickhouse-server >/dev/null 2>&1; then
    log "apt-get update (apt does not know clickhouse-server yet)"
    _apt_get update -qq >>"$pkglog" 2>&1 || { show_log_tail "$pkglog"; die "apt-get update failed (log: $pkglog)"; }
    updated=1
  fi
  log "installing clickhouse-server clickhouse-client (apt-get)"
  if ! _apt_get install -y -q --no-install-recommends clickhouse-server clickhouse-client >>"$pkglog" 2>&1; then
    (( updated )) && { show_log_tail "$pkglog"; die "apt-get install clickhouse failed (log: $pkglog)"; }
    log "install failed with the current package lists; apt-get update and retry"
    _apt_get update -qq >>"$pkglog" 2>&1 || { show_log_tail "$pkglog"; die "apt-get update failed (log: $pkglog)"; }
    _apt_get install -y -q --no-install-recommends clickhouse-server clickhouse-client >>"$pkglog" 2>&1 \
      || { show_log_tail "$pkglog"; die "apt-get install clickhouse failed (log: $pkglog)"; }
  fi
  clickhouse_bin >/dev/null || die "clickhouse installed but no clickhouse-server/clickhouse binary on PATH"
  rm -f "$pkglog"
  log "ClickHouse installed in $(elapsed_s "$t0")s"
}

# clickhouse_ping HTTP_PORT: true when /ping answers "Ok.".
clickhouse_ping() {
  [[ "$(curl -s --max-time 2 "http://127.0.0.1:$1/ping" 2>/dev/null)" == "Ok." ]]
}

# clickhouse_start DIR HTTP_PORT TCP_PORT: write DIR/config.xml + DIR/users.xml (all data,
# logs and temp files under DIR, listening on 127.0.0.1 only) and start the server.
# Harmless if already running. Several instances can run with different DIRs and ports.
clickhouse_start() {
  local dir http=$2 tcp=$3 t0 rc=0 bin
  mkdir -p "$1" && dir=$(cd "$1" && pwd)
  local pidfile="$dir/clickhouse.pid" logfile="$dir/clickhouse.log"
  t0=$(now_s)
  if pid_alive "$pidfile"; then
    wait_until 30 "$pidfile" -- clickhouse_ping "$http" \
      || { show_log_tail "$logfile" "$dir/log/clickhouse-server.err.log"; die "ClickHouse (pid $(<"$pidfile")) runs but does not answer on 127.0.0.1:$http"; }
    log "ClickHouse already running on 127.0.0.1:$http (pid $(<"$pidfile"))"
    return 0
  fi
  bin=$(clickhouse_bin) || die "ClickHouse not installed: run clickhouse_install first"
  local p
  for p in "$http" "$tcp"; do
    port_open 127.0.0.1 "$p" && die "port 127.0.0.1:$p is already in use by another process (not $pidfile)"
  done
  mkdir -p "$dir/data" "$dir/tmp" "$dir/user_files" "$dir/format_schemas" "$dir/log"

  # No interserver_http_port (18.16 opens it only when configured: no replication here),
  # so two instances need nothing but different http/tcp ports and directories.
  cat >"$dir/config.xml" <<EOF
<?xml version="1.0"?>
<!-- Written by ops/lib/clickhouse.sh on every start; edit that file, not this one. -->
<yandex>
    <logger>
        <level>information</level>
        <log>$dir/log/clickhouse-server.log</log>
        <errorlog>$dir/log/clickhouse-server.err.log</errorlog>
        <size>100M</size>
        <count>3</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <http_port>$http</http_port>
    <tcp_port>$tcp</tcp_port>
    <max_connections>1024</max_connections>
    <keep_alive_timeout>3</keep_alive_timeout>
    <max_concurrent_queries>100</max_concurrent_queries>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <mark_cache_size>268435456</mark_cache_size>
    <path>$dir/data/</path>
    <tmp_path>$dir/tmp/</tmp_path>
    <user_files_path>$dir/user_files/</user_files_path>
    <format_schema_path>$dir/format_schemas/</format_schema_path>
    <users_config>$dir/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <builtin_dictionaries_reload_interval>3600</builtin_dictionaries_reload_interval>
    <max_session_timeout>3600</max_session_timeout>
    <default_session_timeout>60</default_session_timeout>
    <max_table_size_to_drop>0</max_table_size_to_drop>
    <max_partition_size_to_drop>0</max_partition_size_to_drop>
</yandex>
EOF
  cat >"$dir/users.xml" <<'EOF'
<?xml version="1.0"?>
<!-- Written by ops/lib/clickhouse.sh: user "default", no password, loopback only. -->
<yandex>
    <profiles>
        <default>
            <max_memory_usage>4000000000</max_memory_usage>
            <use_uncompressed_cache>0</use_uncompressed_cache>
            <load_balancing>random</load_balancing>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks>
                <ip>127.0.0.1</ip>
                <ip>::1</ip>
            </networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
EOF

  # shellcheck disable=SC2086  # $bin may be "clickhouse server"
  start_bg clickhouse "$pidfile" "$logfile" $bin --config-file="$dir/config.xml"
  wait_until 30 "$pidfile" -- clickhouse_ping "$http" || rc=$?
  if (( rc != 0 )); then
    show_log_tail "$logfile" "$dir/log/clickhouse-server.err.log"
    (( rc == 2 )) && die "ClickHouse exited during start-up (logs: $logfile, $dir/log/)"
    die "ClickHouse did not answer http://127.0.0.1:$http/ping within 30s (logs: $dir/log/); stop it with kill $(<"$pidfile")"
  fi
  log "ClickHouse ready on http://127.0.0.1:$http (tcp $tcp) in $(elapsed_s "$t0")s (data: $dir/data)"
}

# clickhouse_stop DIR: SIGTERM, SIGKILL after 30s.
clickhouse_stop() { stop_pidfile "$1/clickhouse.pid" 30; }
