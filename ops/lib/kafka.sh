# shellcheck shell=bash
# Apache Kafka (KRaft, one node: broker + controller) from Maven Central jars.
# Source after common.sh.

KAFKA_POM="$ROOT/ops/kafka/pom.xml"
KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$KAFKA_POM")"
[[ -n "$KAFKA_VERSION" ]] || die "no <kafka.version> in $KAFKA_POM"
KAFKA_JARS="$ROOT/.state/cache/kafka-$KAFKA_VERSION"

# kafka_install: make sure $KAFKA_JARS holds the broker's runtime jars. The download goes
# to a temporary directory that is renamed only when complete, with a marker holding the
# pom's checksum (an edited pom, e.g. a new dependency, downloads again).
kafka_install() {
  local sum tmp t0
  sum=$(sha256sum "$KAFKA_POM" | cut -d' ' -f1)
  if [[ -f "$KAFKA_JARS/.complete" && "$(<"$KAFKA_JARS/.complete")" == "$sum" ]] \
     && compgen -G "$KAFKA_JARS/kafka_2.13-*.jar" >/dev/null; then
    log "Kafka $KAFKA_VERSION jars present ($KAFKA_JARS)"
    return 0
  fi
  command -v java >/dev/null || die "java not found (Kafka $KAFKA_VERSION needs Java 17+)"
  command -v mvn >/dev/null || die "mvn not found (needed to fetch Kafka from Maven Central)"
  t0=$(now_s)
  log "downloading Kafka $KAFKA_VERSION jars from Maven Central (mvn)"
  mkdir -p "$(dirname "$KAFKA_JARS")"
  tmp="$KAFKA_JARS.tmp.$$"
  rm -rf "$tmp"
  if ! mvn -B -q -Dstyle.color=never -f "$KAFKA_POM" dependency:copy-dependencies \
        -DoutputDirectory="$tmp" -DincludeScope=runtime >"$tmp.log" 2>&1; then
    show_log_tail "$tmp.log"
    rm -rf "$tmp"
    die "mvn could not fetch Kafka $KAFKA_VERSION (log: $tmp.log)"
  fi
  rm -f "$tmp.log"
  compgen -G "$tmp/kafka_2.13-*.jar" >/dev/null || die "mvn finished but $tmp has no kafka_2.13 jar"
  echo "$sum" >"$tmp/.complete"
  rm -rf "$KAFKA_JARS.old"
  if [[ -e "$KAFKA_JARS" ]]; then mv "$KAFKA_JARS" "$KAFKA_JARS.old"; fi
  mv "$tmp" "$KAFKA_JARS"
  rm -rf "$KAFKA_JARS.old"
  log "Kafka $KAFKA_VERSION: $(find "$KAFKA_JARS" -name '*.jar' | wc -l) jars in $(elapsed_s "$t0")s"
}

# kafka_api_ready HOST PORT: true when the broker answers an ApiVersions request
# (an open port alone is not enough: the kernel accepts connections before Kafka does).
kafka_api_ready() {
  local reply
  # shellcheck disable=SC2016  # $0/$1 expand in the child bash
  reply=$(timeout 3 bash -c '
    exec 3<>"/dev/tcp/$0/$1" || exit 1
    # size=10, api_key=18 (ApiVersions), api_version=0, correlation_id=1, client_id=""
    printf "\x00\x00\x00\x0a\x00\x12\x00\x00\x00\x00\x00\x01\x00\x00" >&3
    head -c 8 <&3 | od -An -tx1' "$1" "$2" 2>/dev/null) || return 1
  reply=${reply//[[:space:]]/}
  [[ ${#reply} -eq 16 && ${reply:8} == 00000001 ]]
}

# kafka_start DIR PORT CONTROLLER_PORT: configure, format (once) and start a single-node
# KRaft Kafka on 127.0.0.1 with its data in DIR/data. Harmless if already running.
# A node of a cluster (the fault-injection tests) sets KAFKA_NODE_ID, KAFKA_QUORUM_VOTERS
# (id@host:controller_port,…), KAFKA_CLUSTER_ID (the same for every node),
# KAFKA_REPLICATION and KAFKA_MIN_ISR.
kafka_start() {
  local dir port=$2 cport=$3 t0 rc=0
  mkdir -p "$1" && dir=$(cd "$1" && pwd)
  local pidfile="$dir/kafka.pid" logfile="$dir/kafka.log"
  t0=$(now_s)
  if pid_alive "$pidfile"; then
    wait_until 90 "$pidfile" -- kafka_api_ready 127.0.0.1 "$port" \
      || { show_log_tail "$logfile"; die "Kafka (pid $(<"$pidfile")) runs but does not answer on 127.0.0.1:$port"; }
    log "Kafka already running on 127.0.0.1:$port (pid $(<"$pidfile"))"
    return 0
  fi
  compgen -G "$KAFKA_JARS/kafka_2.13-*.jar" >/dev/null || die "Kafka jars missing: run kafka_install first"
  local p
  for p in "$port" "$cport"; do
    port_open 127.0.0.1 "$p" && die "port 127.0.0.1:$p is already in use by another process (not $pidfile)"
  done
  mkdir -p "$dir/data" "$dir/logs"

  # Static quorum (controller.quorum.voters) rather than a formatted voter set: the
  # controller port can then change between runs without re-formatting the data.
  cat >"$dir/server.properties" <<EOF
# Written by ops/lib/kafka.sh on every start; edit that file, not this one.
process.roles=broker,controller
node.id=${KAFKA_NODE_ID:-1}
controller.quorum.voters=${KAFKA_QUORUM_VOTERS:-1@127.0.0.1:$cport}
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
log.dirs=$dir/data
auto.create.topics.enable=false
num.partitions=3
default.replication.factor=${KAFKA_REPLICATION:-1}
offsets.topic.replication.factor=${KAFKA_REPLICATION:-1}
transaction.state.log.replication.factor=${KAFKA_REPLICATION:-1}
transaction.state.log.min.isr=${KAFKA_MIN_ISR:-1}
share.coordinator.state.topic.replication.factor=${KAFKA_REPLICATION:-1}
share.coordinator.state.topic.min.isr=${KAFKA_MIN_ISR:-1}
min.insync.replicas=${KAFKA_MIN_ISR:-1}
group.initial.rebalance.delay.ms=0
# The log is the source of truth: keep everything.
log.retention.ms=-1
log.retention.bytes=-1
EOF

  cat >"$dir/log4j2.properties" <<EOF
# Written by ops/lib/kafka.sh. Broker log: $dir/logs/server.log (stdout goes to $logfile).
status = warn
# Kafka logs through its own shutdown hook: keep log4j alive until the JVM exits.
shutdownHook = disable
appender.file.type = RollingFile
appender.file.name = file
appender.file.fileName = $dir/logs/server.log
appender.file.filePattern = $dir/logs/server.log.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 50MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 3
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
appender.out.filter.threshold.type = ThresholdFilter
appender.out.filter.threshold.level = warn
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
rootLogger.appenderRef.out.ref = out
logger.kafka.name = kafka
logger.kafka.level = info
logger.state.name = state.change.logger
logger.state.level = warn
logger.request.name = kafka.request.logger
logger.request.level = warn
EOF

  local -a java_cmd=(java -Xmx512m -Xms128m -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true
    "-Dlog4j2.configurationFile=$dir/log4j2.properties" "-Dkafka.logs.dir=$dir/logs"
    -cp "$KAFKA_JARS/*")

  if [[ ! -f "$dir/data/meta.properties" ]]; then
    local cid="${KAFKA_CLUSTER_ID:-}"
    [[ -z "$cid" && -s "$dir/cluster-id" ]] && cid=$(<"$dir/cluster-id")
    # A Kafka Uuid: 16 random bytes, base64url without padding; like Kafka's own
    # Uuid.randomUuid() never starting with "-" (the format command would take it for an option).
    while [[ ! "$cid" =~ ^[A-Za-z0-9_][A-Za-z0-9_-]{21}$ ]]; do
      cid=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
    done
    echo "$cid" >"$dir/cluster-id"
    log "formatting Kafka storage in $dir/data (cluster id $(<"$dir/cluster-id"))"
    if ! "${java_cmd[@]}" kafka.tools.StorageTool format --ignore-formatted \
          -t "$(<"$dir/cluster-id")" -c "$dir/server.properties" >"$dir/format.log" 2>&1; then
      show_log_tail "$dir/format.log"
      die "formatting Kafka storage failed"
    fi
  fi

  start_bg kafka "$pidfile" "$logfile" "${java_cmd[@]}" kafka.Kafka "$dir/server.properties"
  wait_until 90 "$pidfile" -- kafka_api_ready 127.0.0.1 "$port" || rc=$?
  if (( rc != 0 )); then
    show_log_tail "$logfile" "$dir/logs/server.log"
    (( rc == 2 )) && die "Kafka exited during start-up (log: $logfile, $dir/logs/server.log)"
    die "Kafka did not answer on 127.0.0.1:$port within 90s (log: $dir/logs/server.log); stop it with ops/down or kill $(<"$pidfile")"
  fi
  log "Kafka $KAFKA_VERSION ready on 127.0.0.1:$port in $(elapsed_s "$t0")s (data: $dir/data)"
}

# kafka_stop DIR: controlled shutdown (SIGTERM), SIGKILL after 60s.
kafka_stop() { stop_pidfile "$1/kafka.pid" 60; }
