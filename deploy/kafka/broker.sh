#!/usr/bin/env bash
# A one-node Apache Kafka broker (KRaft, combined broker+controller) on 127.0.0.1,
# run from Apache Kafka's own Maven Central artifacts. Used by the tests and by developers;
# production runs the official image (docker-compose.yml).
#
#   deploy/kafka/broker.sh start [PORT]     fetch (cached), format fresh storage, start, wait until it answers
#   deploy/kafka/broker.sh restart [PORT]   start again on the data it has (after a stop or a kill)
#   deploy/kafka/broker.sh stop  [PORT]     stop cleanly (SIGTERM, then wait)
#   deploy/kafka/broker.sh kill  [PORT]     kill -9, as a crash would (fault tests); data stays for restart
#   deploy/kafka/broker.sh destroy [PORT]   stop, and remove that port's data (throwaway brokers: tests, benchmarks)
#   deploy/kafka/broker.sh status [PORT]
#   deploy/kafka/broker.sh dir [PORT]      where that port's data, pid and logs are
#   deploy/kafka/broker.sh limits           the size limit it is configured with
#   deploy/kafka/broker.sh start-secure [PORT]   like start, but clients must log in (SASL/SCRAM-SHA-512) and
#                                           ACLs decide what each may do; users come from BROKER_USERS
#                                           ("admin:secret fulfil:secret shop-acme:secret"; the first is the
#                                           super user)
#   deploy/kafka/broker.sh acl PORT ARGS... Kafka's ACL tool as that super user, e.g.
#                                           acl 9092 --add --allow-principal User:shop-acme --operation Write
#                                               --topic shop.orders
#
#   deploy/kafka/broker.sh cluster start [PORT]     three brokers (KRaft, each broker+controller, one quorum) on
#                                           127.0.0.1, clients on PORT, PORT+2, PORT+4 (controllers one above
#                                           each); internal topics replicated 3 times, min.insync.replicas 2
#   deploy/kafka/broker.sh cluster stop|destroy|status [PORT]
#   deploy/kafka/broker.sh cluster kill N [PORT]     kill -9 broker N (1-3), as a crash would; its data stays
#   deploy/kafka/broker.sh cluster restart N [PORT]  start broker N again on its data
#   deploy/kafka/broker.sh cluster bootstrap [PORT]  the clients' bootstrap list
#
# The largest message the broker takes (message.max.bytes) is message_max_bytes of deploy/topics.yaml.
#
# Environment: FULFIL_KAFKA_HOME (default ~/.cache/fulfil/kafka) holds the jars and the
# per-port data directories.
set -euo pipefail

cmd=${1:-}
port=${2:-9092}
[ "$cmd" = cluster ] && port=9092  # the cluster's nodes set their own ports
here=$(cd "$(dirname "$0")" && pwd)
home=${FULFIL_KAFKA_HOME:-$HOME/.cache/fulfil/kafka}
version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml")
libs="$home/libs-$version"
run="$home/run-$port"
controller_port=$((port + 1))
message_max_bytes=$(sed -n 's/^message_max_bytes: *\([0-9][0-9]*\).*/\1/p' "$here/../topics.yaml")

die() { echo "broker.sh: $*" >&2; exit 1; }

fetch() {
  [ -f "$libs/.complete" ] && return 0
  command -v mvn >/dev/null || die "Maven (mvn) is needed to fetch Apache Kafka $version from Maven Central"
  command -v java >/dev/null || die "a Java runtime (17+) is needed to run Apache Kafka"
  echo "broker.sh: fetching Apache Kafka $version from Maven Central into $libs" >&2
  rm -rf "$libs.tmp"
  mvn -q -B -Dstyle.color=never -f "$here/pom.xml" dependency:copy-dependencies \
      -DoutputDirectory="$libs.tmp" -DincludeScope=runtime >&2
  touch "$libs.tmp/.complete"
  rm -rf "$libs" && mv "$libs.tmp" "$libs"
}

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }

pid_alive() { [ -f "$run/pid" ] && kill -0 "$(cat "$run/pid")" 2>/dev/null; }

start() {
  pid_alive && { echo "broker.sh: already running on 127.0.0.1:$port (pid $(cat "$run/pid"))"; return 0; }
  answers && die "port $port is already taken by another process"
  [ -n "$message_max_bytes" ] || die "no message_max_bytes in $here/../topics.yaml"
  fetch
  rm -rf "$run" && mkdir -p "$run/data"
  configure
  local java_opts; java_opts=$(java_options)
  # Users' SCRAM credentials go in with the format, from an owner-only argument file (one argument a line) that
  # the storage tool reads itself: never on a command line, which any local user can read.
  local users=()
  if [ "${secure:-0}" = 1 ]; then
    local user
    (umask 077; : > "$run/format.args")
    for user in $BROKER_USERS; do
      printf -- '--add-scram\nSCRAM-SHA-512=[name=%s,password=%s]\n' "${user%%:*}" "${user#*:}" >> "$run/format.args"
    done
    users=("@$run/format.args")
  fi
  # shellcheck disable=SC2086
  java $java_opts -cp "$libs/*" kafka.tools.StorageTool format \
       -t "${cluster_id:-$(java -cp "$libs/*" kafka.tools.StorageTool random-uuid 2>/dev/null)}" \
       -c "$run/server.properties" "${users[@]}" > "$run/format.log" 2>&1 \
    || { rm -f "$run/format.args"; cat "$run/format.log" >&2; die "formatting KRaft storage failed"; }
  rm -f "$run/format.args"
  [ "${no_launch:-0}" = 1 ] || launch
}

start_secure() {
  [ -n "${BROKER_USERS:-}" ] || die "start-secure needs BROKER_USERS=\"admin:secret user:secret ...\""
  secure=1
  start
}

acl() {
  [ -f "$run/admin.properties" ] || die "no secure broker on port $port (start-secure first)"
  java -cp "$libs/*" -Dlog4j.configuration="file:$run/log4j.properties" kafka.admin.AclCommand \
       --bootstrap-server "127.0.0.1:$port" --command-config "$run/admin.properties" "$@"
}

restart() {
  pid_alive && { echo "broker.sh: already running on 127.0.0.1:$port (pid $(cat "$run/pid"))"; return 0; }
  [ -f "$run/server.properties" ] || die "no broker data for port $port to restart on; use start"
  launch
}

java_options() {
  echo "-Xms256m -Xmx768m -XX:+UseG1GC -Djava.awt.headless=true -Dlog4j.configuration=file:$run/log4j.properties"
}

configure() {
  cat > "$run/server.properties" <<PROPS
process.roles=broker,controller
node.id=${node_id:-1}
controller.quorum.voters=${voters:-1@127.0.0.1:$controller_port}
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$run/data
num.partitions=4
offsets.topic.replication.factor=${replicas:-1}
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=${replicas:-1}
transaction.state.log.min.isr=${min_isr:-1}
default.replication.factor=${replicas:-1}
min.insync.replicas=${min_isr:-1}
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
message.max.bytes=$message_max_bytes
PROPS
  if [ "${secure:-0}" = 1 ]; then
    local admin=${BROKER_USERS%% *}
    # Every listener needs a login, the controller's too, and nobody is a super user but the admin. Clients log
    # in with SCRAM-SHA-512 (credentials in the cluster's metadata, from the format); the broker, its controller
    # and the admin's tools with PLAIN, whose one user lives in this owner-only file (SCRAM cannot serve the
    # controller listener: its credentials live in the metadata the controller serves).
    chmod 600 "$run/server.properties"
    local plain="org.apache.kafka.common.security.plain.PlainLoginModule required username=\"${admin%%:*}\" password=\"${admin#*:}\" user_${admin%%:*}=\"${admin#*:}\";"
    sed -i -e "s#^listeners=PLAINTEXT://#listeners=SASL_PLAINTEXT://#" \
           -e "s#^advertised.listeners=PLAINTEXT://#advertised.listeners=SASL_PLAINTEXT://#" \
           -e "s#^inter.broker.listener.name=PLAINTEXT#inter.broker.listener.name=SASL_PLAINTEXT#" \
           -e "s#^listener.security.protocol.map=.*#listener.security.protocol.map=CONTROLLER:SASL_PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT#" \
           -e "s#^auto.create.topics.enable=true#auto.create.topics.enable=false#" "$run/server.properties"
    (umask 077; cat >> "$run/server.properties" <<PROPS
sasl.enabled.mechanisms=SCRAM-SHA-512,PLAIN
sasl.mechanism.inter.broker.protocol=PLAIN
sasl.mechanism.controller.protocol=PLAIN
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=$plain
listener.name.sasl_plaintext.plain.sasl.jaas.config=$plain
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:${admin%%:*}
allow.everyone.if.no.acl.found=false
PROPS
    cat > "$run/admin.properties" <<PROPS
security.protocol=SASL_PLAINTEXT
sasl.mechanism=PLAIN
sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="${admin%%:*}" password="${admin#*:}";
PROPS
    )
    chmod 600 "$run/admin.properties" "$run/server.properties"
  fi
  cat > "$run/log4j.properties" <<PROPS
log4j.rootLogger=WARN, file
log4j.logger.kafka.server.KafkaServer=INFO
log4j.logger.kafka.server.KafkaRaftServer=INFO
log4j.logger.kafka.server.BrokerServer=INFO
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$run/broker.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
PROPS
}

launch() {
  launch_in_background
  wait_started
}

stop() {
  pid_alive || { echo "broker.sh: not running on port $port"; return 0; }
  local pid; pid=$(cat "$run/pid")
  kill -TERM "$pid"
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$run/pid"; echo "broker.sh: stopped"; return 0; }
    sleep 0.5
  done
  echo "broker.sh: no clean stop within 30 s, killing" >&2
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$run/pid"
}

destroy() {
  stop
  rm -rf "$run"
}

crash() {
  pid_alive || { echo "broker.sh: not running on port $port"; return 0; }
  local pid; pid=$(cat "$run/pid")
  kill -KILL "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  rm -f "$run/pid"
  echo "broker.sh: killed (-9)"
}

# -- a three-broker cluster -------------------------------------------------------------------------------------
node() {  # node N of the cluster whose first client port is $1: its ports and its own directory
  node_id=$2
  port=$(($1 + 2 * (node_id - 1)))
  controller_port=$((port + 1))
  run="$home/cluster-$1/node-$node_id"
  voters="1@127.0.0.1:$(($1 + 1)),2@127.0.0.1:$(($1 + 3)),3@127.0.0.1:$(($1 + 5))"
  replicas=3
  min_isr=2
}

cluster() {
  local action=${1:-} base
  case "$action" in
    kill|restart) [ -n "${2:-}" ] || die "usage: broker.sh cluster $action N [PORT]"; base=${3:-19092} ;;
    *) base=${2:-19092} ;;
  esac
  local n
  case "$action" in
    start)
      fetch
      cluster_id=$(java -cp "$libs/*" kafka.tools.StorageTool random-uuid 2>/dev/null)
      for n in 1 2 3; do
        node "$base" "$n"
        pid_alive && die "broker $n of the cluster on $base is already running"
        answers && die "port $port is already taken by another process"
      done
      for n in 1 2 3; do  # a quorum elects its leader only once a majority runs: all three start, then they wait
        node "$base" "$n"
        rm -rf "$run" && mkdir -p "$run/data"
        no_launch=1 start
        launch_in_background
      done
      for n in 1 2 3; do node "$base" "$n"; wait_started; done
      echo "broker.sh: a cluster of three on $(cluster_bootstrap "$base")" ;;
    stop|destroy) for n in 3 2 1; do node "$base" "$n"; "$action"; done; [ "$action" = destroy ] && rm -rf "$home/cluster-$base"; true ;;
    kill) node "$base" "$2"; crash ;;
    restart) node "$base" "$2"; [ -f "$run/server.properties" ] || die "no broker $2 in the cluster on $base"
             pid_alive && { echo "broker.sh: broker $2 already running"; return 0; }
             launch_in_background; wait_started ;;
    status) local up=0; for n in 1 2 3; do node "$base" "$n"; if pid_alive && answers; then up=$((up + 1)); fi; done
            echo "$up of 3 brokers running on $(cluster_bootstrap "$base")"; [ "$up" = 3 ] ;;
    bootstrap) cluster_bootstrap "$base" ;;
    *) die "usage: broker.sh cluster start|stop|destroy|status|bootstrap [PORT] or cluster kill|restart N [PORT]" ;;
  esac
}

cluster_bootstrap() { echo "127.0.0.1:$1,127.0.0.1:$(($1 + 2)),127.0.0.1:$(($1 + 4))"; }

launch_in_background() {
  : > "$run/broker.log"
  local java_opts; java_opts=$(java_options)
  # shellcheck disable=SC2086
  nohup java $java_opts -cp "$libs/*" kafka.Kafka "$run/server.properties" > "$run/stdout.log" 2>&1 < /dev/null &
  echo $! > "$run/pid"
}

wait_started() {
  local which="Apache Kafka $version"
  [ -n "${node_id:-}" ] && which="broker $node_id"
  for _ in $(seq 1 180); do
    pid_alive || { tail -n 30 "$run/stdout.log" "$run/broker.log" >&2 || true; die "$which exited during start-up"; }
    if answers && grep -qE "Kafka Server started" "$run/broker.log" "$run/stdout.log" 2>/dev/null; then
      echo "broker.sh: $which listening on 127.0.0.1:$port (pid $(cat "$run/pid"))"
      return 0
    fi
    sleep 0.5
  done
  die "$which did not answer on 127.0.0.1:$port within 90 s (see $run/broker.log)"
}

case "$cmd" in
  cluster) shift; cluster "$@" ;;
  start) start ;;
  start-secure) start_secure ;;
  acl) shift 2; acl "$@" ;;
  restart) restart ;;
  stop) stop ;;
  kill) crash ;;
  destroy) destroy ;;
  status) if pid_alive && answers; then echo "running on 127.0.0.1:$port"; else echo "not running"; exit 1; fi ;;
  fetch) fetch ;;
  dir) echo "$run" ;;
  limits) echo "message.max.bytes=$message_max_bytes" ;;
  *) die "usage: broker.sh start|start-secure|restart|stop|kill|destroy|status|dir|fetch|limits|acl [PORT]" ;;
esac
