#!/usr/bin/env bash
# testbed.sh: the milvus-cdc test bed. Installs (once, into a cache outside the repo)
# and runs, on one host without Docker: etcd 3.5.21, Pulsar 3.0.x standalone or Kafka
# 3.9.x KRaft, a SOURCE Milvus 2.3 (external etcd + that broker) and a TARGET Milvus
# 2.3 (own rocksmq). See docs/testbed.md.
#
#   testbed.sh up     [--mq pulsar|kafka] [--target-mode api|replicate]
#                                           install what is missing, start everything, write .testbed/env
#   testbed.sh down                         stop exactly the processes `up` started (by PID)
#   testbed.sh status                       what runs, its PID, RSS and ports
#   testbed.sh logs   [component] [-n N]    tail the logs (etcd pulsar kafka src dst)
#   testbed.sh install [--mq pulsar|kafka]  only install
#
# Environment: MQ (pulsar|kafka, default pulsar), TARGET_MODE (api|replicate, default
# api: replicate starts the target with common.ttMsgEnabled=false, the mode the
# "replicate" writer needs), MILVUS_CDC_BED_CACHE (install cache,
# default ~/.cache/milvus-cdc-bed), MILVUS_CDC_BED_STATE (runtime state, default
# <repo>/.testbed), TESTBED_KEEP_ON_FAILURE=1 (leave the started part running when
# `up` fails, for debugging).
set -Eeuo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
CACHE=${MILVUS_CDC_BED_CACHE:-$HOME/.cache/milvus-cdc-bed}
STATE=${MILVUS_CDC_BED_STATE:-$REPO_ROOT/.testbed}
MQ=${MQ:-pulsar}
TARGET_MODE=${TARGET_MODE:-api}

# Versions. The milvus wheel is the newest 2.3 one the registry serves (see docs/testbed.md).
ETCD_VERSION=3.5.21
MILVUS_WHEEL_VERSION=2.3.5
PYMILVUS_VERSION=2.3.7
PULSAR_VERSION=3.0.7
GRPC_BOM_VERSION=1.55.3
KAFKA_VERSION=3.9.1

# Ports (all on 127.0.0.1).
ETCD_CLIENT_PORT=2379
ETCD_PEER_PORT=2380
PULSAR_PORT=6650
PULSAR_WEB_PORT=8080
PULSAR_BOOKIE_PORT=3181
KAFKA_PORT=9092
KAFKA_CONTROLLER_PORT=9093
SRC_PORT_OFFSET=0
SRC_METRICS_PORT=9091
DST_PORT_OFFSET=100
DST_METRICS_PORT=9191
SRC_PREFIX=cdc-src
DST_PREFIX=cdc-dst
DML_CHANNEL_NUM=4

MILVUS_HOME=$CACHE/milvus-$MILVUS_WHEEL_VERSION
ETCD_BIN=$CACHE/bin/etcd-$ETCD_VERSION
PULSAR_LIB=$CACHE/pulsar-$PULSAR_VERSION/lib
KAFKA_LIB=$CACHE/kafka-$KAFKA_VERSION/lib

log() { printf '[testbed %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# ---------------------------------------------------------------- install

ensure_tools() {
	local missing=()
	command -v go >/dev/null || die "go is required (it builds etcd)"
	command -v python3 >/dev/null || die "python3 is required (it installs the milvus wheel)"
	command -v curl >/dev/null || missing+=(curl)
	command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
	command -v mvn >/dev/null || missing+=(maven)
	command -v ss >/dev/null || missing+=(iproute2)
	command -v setsid >/dev/null || missing+=(util-linux)
	python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
	if ((${#missing[@]})); then
		[[ $(id -u) == 0 ]] || die "missing tools: ${missing[*]} (install them, or run as root so apt-get can)"
		log "apt-get install ${missing[*]}"
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
	fi
}

install_etcd() {
	[[ -x $ETCD_BIN ]] && return 0
	log "building etcd $ETCD_VERSION from the Go module proxy (wrapper module)"
	local w=$CACHE/build/etcdwrap-$ETCD_VERSION
	rm -rf "$w" && mkdir -p "$w" "$CACHE/bin"
	# `go install go.etcd.io/etcd/server/v3@...` refuses modules with replace
	# directives; a wrapper module that calls etcdmain.Main builds the same server.
	printf 'module example.local/etcdwrap\n\ngo 1.22\n' >"$w/go.mod"
	cat >"$w/main.go" <<'EOF'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
EOF
	(cd "$w" && export GOFLAGS=-mod=mod GOWORK=off CGO_ENABLED=0 &&
		go get "go.etcd.io/etcd/server/v3@v$ETCD_VERSION" >"$w/build.log" 2>&1 &&
		go build -o "$ETCD_BIN.tmp" . >>"$w/build.log" 2>&1) ||
		{ tail -20 "$w/build.log" >&2; die "etcd build failed (log: $w/build.log)"; }
	mv "$ETCD_BIN.tmp" "$ETCD_BIN"
	"$ETCD_BIN" --version | head -1 >&2
}

install_milvus() {
	local stamp=$CACHE/venv/.installed-milvus-$MILVUS_WHEEL_VERSION-pymilvus-$PYMILVUS_VERSION
	[[ -f $stamp && -x $MILVUS_HOME/bin/milvus && -f $MILVUS_HOME/config.yaml.template ]] && return 0
	log "installing milvus==$MILVUS_WHEEL_VERSION + pymilvus==$PYMILVUS_VERSION into $CACHE/venv"
	[[ -x $CACHE/venv/bin/python ]] || python3 -m venv "$CACHE/venv"
	# pymilvus 2.3.7 imports pkg_resources (gone from setuptools 81 and absent from
	# new venvs) and environs 9.5, which breaks with marshmallow 4: pin both.
	"$CACHE/venv/bin/pip" install -q --disable-pip-version-check \
		"milvus==$MILVUS_WHEEL_VERSION" "pymilvus==$PYMILVUS_VERSION" 'setuptools<81' 'marshmallow<4' ||
		die "pip install failed"
	"$CACHE/venv/bin/python" -W ignore -c 'import pymilvus' || die "pymilvus does not import"
	# The wheel ships the real Milvus standalone binary and its shared libraries,
	# lzma-compressed; its own helper unpacks them.
	MILVUS_HOME=$MILVUS_HOME "$CACHE/venv/bin/python" - <<'EOF' || die "extracting the milvus binary failed"
import os, shutil, milvus
home = os.environ["MILVUS_HOME"]
milvus._initialize_data_files(home)
data = os.path.join(os.path.dirname(milvus.__file__), "data")
for f in ("config.yaml.template", "glog.conf"):
    shutil.copy(os.path.join(data, f), home)
EOF
	touch "$stamp"
}

# mvn_classpath DIR POM_BODY: resolve the dependencies in POM_BODY into DIR/lib.
mvn_classpath() {
	local dir=$1 body=$2
	[[ -f $dir/lib/.complete ]] && return 0
	mkdir -p "$dir"
	printf '%s\n' "$body" >"$dir/pom.xml"
	rm -rf "${dir:?}/lib"
	(cd "$dir" && mvn -q -B -s "$SCRIPT_DIR/maven-settings.xml" dependency:copy-dependencies \
		-DincludeScope=runtime -DoutputDirectory="$dir/lib") >"$dir/mvn.log" 2>&1 ||
		{ tail -30 "$dir/mvn.log" >&2; die "mvn failed (log: $dir/mvn.log)"; }
	touch "$dir/lib/.complete"
}

install_pulsar() {
	[[ -f $PULSAR_LIB/.complete ]] && return 0
	log "resolving the Pulsar $PULSAR_VERSION class path with mvn"
	# pulsar-server-distribution is not on the registry; pulsar-broker is, and its
	# parent POM (imported as a BOM) pins the distribution's library versions.
	mvn_classpath "$CACHE/pulsar-$PULSAR_VERSION" "<project>
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.testbed</groupId><artifactId>pulsar-standalone-cp</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencyManagement><dependencies>
    <dependency><groupId>org.apache.pulsar</groupId><artifactId>pulsar</artifactId><version>$PULSAR_VERSION</version><type>pom</type><scope>import</scope></dependency>
    <dependency><groupId>io.grpc</groupId><artifactId>grpc-bom</artifactId><version>$GRPC_BOM_VERSION</version><type>pom</type><scope>import</scope></dependency>
  </dependencies></dependencyManagement>
  <dependencies>
    <dependency><groupId>org.apache.pulsar</groupId><artifactId>pulsar-broker</artifactId><version>$PULSAR_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId></dependency>
  </dependencies>
</project>"
}

install_kafka() {
	[[ -f $KAFKA_LIB/.complete ]] && return 0
	log "resolving the Kafka $KAFKA_VERSION class path with mvn"
	mvn_classpath "$CACHE/kafka-$KAFKA_VERSION" "<project>
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.testbed</groupId><artifactId>kafka-kraft-cp</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>ch.qos.reload4j</groupId><artifactId>reload4j</artifactId><version>1.2.25</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>1.7.36</version></dependency>
  </dependencies>
</project>"
}

cmd_install() {
	local t
	mkdir -p "$CACHE"
	t=$(now); ensure_tools; log "phase tools: $(elapsed "$t") s"
	t=$(now); install_etcd; log "phase install etcd: $(elapsed "$t") s"
	t=$(now); install_milvus; log "phase install milvus: $(elapsed "$t") s"
	t=$(now)
	case $MQ in
	pulsar) install_pulsar ;;
	kafka) install_kafka ;;
	esac
	log "phase install $MQ: $(elapsed "$t") s"
}

# ---------------------------------------------------------------- processes

# Components in start order; `down` walks them backwards.
ALL_COMPONENTS=(etcd pulsar kafka src dst)

pidfile() { echo "$STATE/$1/pid"; }
logfile() {
	case $1 in
	src | dst) echo "$STATE/$1/logs/stdout.log" ;;
	*) echo "$STATE/$1/$1.log" ;;
	esac
}

# proc_start_time PID: the process start time (field 22 of /proc/PID/stat, in clock
# ticks since boot). Recorded next to the PID, it guards `down` against a PID that
# the kernel has reused for some other process.
proc_start_time() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) } # drop "pid (comm) ", comm may contain spaces
	awk '{ print $20 }' <<<"$stat"
}

# running COMPONENT -> prints the PID when the recorded process is alive and ours.
running() {
	local pf pid start
	pf=$(pidfile "$1")
	[[ -f $pf ]] || return 1
	read -r pid start <"$pf" || true
	[[ -n ${pid:-} && -n ${start:-} ]] || return 1
	[[ $(proc_start_time "$pid") == "$start" ]] || return 1
	echo "$pid"
}

# spawn COMPONENT DIR CMD...: start CMD detached (own session) with cwd DIR, log + pid file.
spawn() {
	local c=$1 dir=$2
	shift 2
	local lf
	lf=$(logfile "$c")
	mkdir -p "$(dirname "$lf")"
	(cd "$dir" && exec setsid "$@" </dev/null >"$lf" 2>&1) &
	local pid=$!
	echo "$pid $(proc_start_time "$pid")" >"$(pidfile "$c")"
}

rss_mb() { awk '/^VmRSS/ { printf "%d", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo "?"; }

# wait_healthy COMPONENT TIMEOUT_S CHECK...: poll CHECK until it succeeds; on timeout or
# process exit print the log tail and fail.
wait_healthy() {
	local c=$1 timeout=$2
	shift 2
	local t0 deadline pid
	t0=$(now)
	deadline=$(($(date +%s) + timeout))
	while :; do
		if "$@" >/dev/null 2>&1; then
			pid=$(running "$c")
			log "$c healthy after $(elapsed "$t0") s (pid $pid, RSS $(rss_mb "$pid") MB)"
			return 0
		fi
		if ! running "$c" >/dev/null; then
			fail_component "$c" "process exited before it became healthy"
		fi
		if (($(date +%s) >= deadline)); then
			fail_component "$c" "not healthy after ${timeout}s"
		fi
		sleep 0.5
	done
}

fail_component() {
	local c=$1 why=$2 lf
	lf=$(logfile "$c")
	log "ERROR: $c: $why. Last 60 lines of $lf:"
	tail -n 60 "$lf" >&2 || true
	exit 1 # the EXIT trap of cmd_up stops what was started
}

up_failed() {
	trap - EXIT
	if [[ ${TESTBED_KEEP_ON_FAILURE:-0} == 1 ]]; then
		log "up failed; TESTBED_KEEP_ON_FAILURE=1: leaving the started components running"
	else
		log "up failed; stopping what was started (TESTBED_KEEP_ON_FAILURE=1 keeps it)"
		cmd_down || true
	fi
	exit 1
}

port_free() { ! ss -Hltn "sport = :$1" | grep -q .; }

check_ports_free() {
	local p busy=()
	for p in "$@"; do port_free "$p" || busy+=("$p"); done
	((${#busy[@]} == 0)) && return 0
	ss -ltnp | grep -E ":($(
		IFS='|'
		echo "${busy[*]}"
	))\b" >&2 || true
	die "ports already in use: ${busy[*]} (another bed or service is running; try '$0 down')"
}

milvus_ports() { # offset -> the 8 gRPC ports of one instance
	local o=$1
	echo $((19530 + o)) $((19529 + o)) $((53100 + o)) $((19531 + o)) $((21123 + o)) $((21121 + o)) $((13333 + o)) $((21124 + o))
}

# ---------------------------------------------------------------- components

start_etcd() {
	local d=$STATE/etcd
	mkdir -p "$d"
	spawn etcd "$d" "$ETCD_BIN" --name default --data-dir "$d/data" \
		--listen-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
		--listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
		--initial-cluster "default=http://127.0.0.1:$ETCD_PEER_PORT" \
		--auto-compaction-mode revision --auto-compaction-retention 1000 \
		--quota-backend-bytes 4294967296 --snapshot-count 50000
	wait_healthy etcd 60 sh -c "curl -sf http://127.0.0.1:$ETCD_CLIENT_PORT/health | grep -q '\"health\":\"true\"'"
}

start_pulsar() {
	local d=$STATE/pulsar
	mkdir -p "$d"
	cat >"$d/standalone.conf" <<EOF
clusterName=standalone
metadataStoreUrl=
brokerServicePort=$PULSAR_PORT
webServicePort=$PULSAR_WEB_PORT
bindAddress=127.0.0.1
advertisedAddress=127.0.0.1
numIOThreads=2
numHttpServerThreads=4
numOrderedExecutorThreads=2
numExecutorThreadPoolSize=2
managedLedgerDefaultEnsembleSize=1
managedLedgerDefaultWriteQuorum=1
managedLedgerDefaultAckQuorum=1
managedLedgerCacheSizeMB=64
loadManagerClassName=org.apache.pulsar.broker.loadbalance.NoopLoadManager
loadBalancerEnabled=false
allowAutoTopicCreation=true
allowAutoTopicCreationType=non-partitioned
brokerDeleteInactiveTopicsEnabled=false
defaultRetentionTimeInMinutes=10080
defaultRetentionSizeInMB=-1
maxMessageSize=104857600
nettyMaxFrameSizeBytes=104867840
functionsWorkerEnabled=false
webSocketServiceEnabled=false
transactionCoordinatorEnabled=false
ledgerStorageClass=org.apache.bookkeeper.bookie.storage.ldb.DbLedgerStorage
dbStorage_writeCacheMaxSizeMb=32
dbStorage_readAheadCacheMaxSizeMb=32
dbStorage_rocksDB_blockCacheSize=16777216
journalSyncData=false
diskUsageThreshold=0.99
diskUsageWarnThreshold=0.99
allowLoopback=true
EOF
	cat >"$d/log4j2.properties" <<'EOF'
status = warn
appender.c.type = Console
appender.c.name = C
appender.c.layout.type = PatternLayout
appender.c.layout.pattern = %d{HH:mm:ss.SSS} %-5level %c{1} - %msg%n
rootLogger.level = info
rootLogger.appenderRef.c.ref = C
EOF
	# JVM flags from Pulsar's bin/pulsar + conf/pulsar_env.sh, sized for 2 cores.
	spawn pulsar "$d" java -Xms256m -Xmx1g -XX:MaxDirectMemorySize=1g \
		-XX:+UseG1GC -XX:MaxGCPauseMillis=10 -XX:ParallelGCThreads=2 -XX:ConcGCThreads=1 -XX:+DisableExplicitGC \
		--add-opens java.base/java.io=ALL-UNNAMED --add-opens java.base/java.util.zip=ALL-UNNAMED \
		--add-opens java.base/java.nio=ALL-UNNAMED --add-opens java.base/jdk.internal.misc=ALL-UNNAMED \
		--add-opens java.base/sun.net=ALL-UNNAMED --add-opens java.management/sun.management=ALL-UNNAMED \
		-Dio.netty.tryReflectionSetAccessible=true -Djava.net.preferIPv4Stack=true -Djute.maxbuffer=10485760 \
		-Dpulsar.allocator.exit_on_oom=true -Dio.netty.recycler.maxCapacityPerThread=4096 \
		-Dlog4j2.configurationFile="$d/log4j2.properties" -Dlog4j.shutdownHookEnabled=false \
		-Dbookkeeper.metadata.bookie.drivers=org.apache.pulsar.metadata.bookkeeper.PulsarMetadataBookieDriver \
		-Dbookkeeper.metadata.client.drivers=org.apache.pulsar.metadata.bookkeeper.PulsarMetadataClientDriver \
		-cp "$PULSAR_LIB/*" org.apache.pulsar.PulsarStandaloneStarter \
		--config "$d/standalone.conf" --no-functions-worker --no-stream-storage \
		--metadata-dir "$d/data/metadata" --bookkeeper-dir "$d/data/bookkeeper" \
		--bookkeeper-port "$PULSAR_BOOKIE_PORT" --advertised-address 127.0.0.1
	wait_healthy pulsar 240 sh -c "curl -sf http://127.0.0.1:$PULSAR_WEB_PORT/admin/v2/namespaces/public | grep -q public/default && curl -sf http://127.0.0.1:$PULSAR_WEB_PORT/admin/v2/brokers/health | grep -q ok"
}

start_kafka() {
	local d=$STATE/kafka
	mkdir -p "$d"
	cat >"$d/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$d/data
num.partitions=1
default.replication.factor=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
message.max.bytes=10485760
replica.fetch.max.bytes=10485760
num.network.threads=2
num.io.threads=2
log.retention.hours=168
EOF
	cat >"$d/log4j.properties" <<'EOF'
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
EOF
	local jopts=(-Xms256m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35
		-XX:ParallelGCThreads=2 -XX:ConcGCThreads=1 -Djava.awt.headless=true -Dlog4j.configuration="file:$d/log4j.properties")
	local cid
	cid=$(java "${jopts[@]}" -cp "$KAFKA_LIB/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)
	java "${jopts[@]}" -cp "$KAFKA_LIB/*" kafka.tools.StorageTool format -t "$cid" -c "$d/server.properties" >"$d/format.log" 2>&1 ||
		{ cat "$d/format.log" >&2; die "kafka storage format failed"; }
	spawn kafka "$d" java "${jopts[@]}" -cp "$KAFKA_LIB/*" kafka.Kafka "$d/server.properties"
	wait_healthy kafka 120 bash -c "grep -q 'Kafka Server started' '$(logfile kafka)' && (exec 3<>/dev/tcp/127.0.0.1/$KAFKA_PORT)"
}

# render_milvus NAME PREFIX PORT_OFFSET MQ_SETTINGS...: write $STATE/NAME/configs/milvus.yaml.
# Every setting goes into the YAML (not environment variables): the file is what we
# verified Milvus reads, and it leaves a record of the exact configuration.
render_milvus() {
	local n=$1 p=$2 o=$3
	shift 3
	local d=$STATE/$n
	mkdir -p "$d/configs" "$d/logs" "$d/data" "$d/run"
	"$CACHE/venv/bin/python" "$SCRIPT_DIR/render_milvus_yaml.py" \
		"$MILVUS_HOME/config.yaml.template" "$d/configs/milvus.yaml" \
		etcd_data_dir="$d/data/etcd.data" local_storage_dir="$d/data" \
		rocksmq_data_dir="$d/data/rocksmq" system_log_path="$d/logs" \
		etcd.use.embed=false etcd.endpoints="127.0.0.1:$ETCD_CLIENT_PORT" \
		etcd.rootPath="$p" common.chanNamePrefix.cluster="$p" \
		rootCoord.dmlChannelNum="$DML_CHANNEL_NUM" common.gracefulStopTimeout=30 \
		proxy.port=$((19530 + o)) proxy.internalPort=$((19529 + o)) rootCoord.port=$((53100 + o)) \
		queryCoord.port=$((19531 + o)) queryNode.port=$((21123 + o)) indexNode.port=$((21121 + o)) \
		dataCoord.port=$((13333 + o)) dataNode.port=$((21124 + o)) \
		"$@"
	cp "$MILVUS_HOME/glog.conf" "$d/configs/"
}

# start_milvus NAME METRICS_PORT
start_milvus() {
	local n=$1 m=$2 d=$STATE/$1
	# Only the variables Milvus needs: a stray PROXY_PORT or LOG_LEVEL in the caller's
	# environment would override the YAML (Milvus maps env names onto its keys).
	spawn "$n" "$d" env -i PATH="$PATH" HOME="$HOME" \
		MILVUSCONF="$d/configs/" LD_LIBRARY_PATH="$MILVUS_HOME/bin" DEPLOY_MODE=STANDALONE \
		METRICS_PORT="$m" MILVUS_RUN_DIR="$d/run" \
		"$MILVUS_HOME/bin/milvus" run standalone --alias "$n"
	wait_healthy "$n" 300 sh -c "curl -sf http://127.0.0.1:$m/healthz | grep -q OK"
}

src_mq_settings() {
	case $MQ in
	pulsar) echo mq.type=pulsar pulsar.address=127.0.0.1 pulsar.port=$PULSAR_PORT pulsar.webport=$PULSAR_WEB_PORT \
		pulsar.maxMessageSize=5242880 ;;
	kafka) echo mq.type=kafka kafka.brokerList=127.0.0.1:$KAFKA_PORT ;;
	esac
}

# ---------------------------------------------------------------- env + cdc config

write_env() {
	local f=$STATE/env tmp
	tmp=$f.tmp
	{
		echo "# written by deployments/testbed/testbed.sh up at $(date -u +%Y-%m-%dT%H:%M:%SZ)"
		echo "MQ_TYPE=$MQ"
		echo "SOURCE_MILVUS_URI=http://127.0.0.1:$((19530 + SRC_PORT_OFFSET))"
		echo "SOURCE_MILVUS_ADDR=127.0.0.1:$((19530 + SRC_PORT_OFFSET))"
		echo "SOURCE_MILVUS_HEALTH_URL=http://127.0.0.1:$SRC_METRICS_PORT/healthz"
		echo "TARGET_MILVUS_URI=http://127.0.0.1:$((19530 + DST_PORT_OFFSET))"
		echo "TARGET_MILVUS_ADDR=127.0.0.1:$((19530 + DST_PORT_OFFSET))"
		echo "TARGET_MILVUS_HEALTH_URL=http://127.0.0.1:$DST_METRICS_PORT/healthz"
		echo "TARGET_MODE=$TARGET_MODE"
		echo "ETCD_ENDPOINTS=http://127.0.0.1:$ETCD_CLIENT_PORT"
		echo "SOURCE_ROOT_PATH=$SRC_PREFIX"
		echo "SOURCE_META_SUB_PATH=meta"
		echo "SOURCE_KV_SUB_PATH=kv"
		echo "SOURCE_CHANNEL_PREFIX=$SRC_PREFIX"
		echo "TARGET_ROOT_PATH=$DST_PREFIX"
		echo "TARGET_CHANNEL_PREFIX=$DST_PREFIX"
		echo "SOURCE_DML_CHANNEL_NUM=$DML_CHANNEL_NUM"
		local i chans=()
		for ((i = 0; i < DML_CHANNEL_NUM; i++)); do chans+=("$SRC_PREFIX-rootcoord-dml_$i"); done
		echo "SOURCE_DML_CHANNELS=$(
			IFS=,
			echo "${chans[*]}"
		)"
		echo "REPLICATE_CHANNEL=$SRC_PREFIX-replicate-msg"
		case $MQ in
		pulsar)
			echo "PULSAR_ADDRESS=pulsar://127.0.0.1:$PULSAR_PORT"
			echo "PULSAR_WEB_ADDRESS=http://127.0.0.1:$PULSAR_WEB_PORT"
			echo "PULSAR_TENANT=public"
			echo "PULSAR_NAMESPACE=default"
			;;
		kafka) echo "KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT" ;;
		esac
		echo "MILVUS_VERSION=$(milvus_version)"
		echo "CDC_CONFIG=$STATE/cdc.yaml"
		echo "TESTBED_STATE=$STATE"
	} >"$tmp"
	mv "$tmp" "$f"
}

milvus_version() {
	sed -n 's/^ *Version: *\(v[^ ]*\).*/\1/p' "$(logfile src)" 2>/dev/null | head -1
}

write_cdc_config() {
	local tmpl=$REPO_ROOT/configs/cdc.testbed.yaml.tmpl
	[[ -f $tmpl ]] || die "missing $tmpl"
	local kafka_brokers=127.0.0.1:$KAFKA_PORT
	sed -e "s#@STATE@#$STATE#g" \
		-e "s#@ETCD_ENDPOINT@#http://127.0.0.1:$ETCD_CLIENT_PORT#g" \
		-e "s#@SOURCE_ROOT_PATH@#$SRC_PREFIX#g" \
		-e "s#@SOURCE_MILVUS_ADDR@#127.0.0.1:$((19530 + SRC_PORT_OFFSET))#g" \
		-e "s#@MQ_TYPE@#$MQ#g" \
		-e "s#@PULSAR_ADDRESS@#pulsar://127.0.0.1:$PULSAR_PORT#g" \
		-e "s#@PULSAR_WEB_ADDRESS@#http://127.0.0.1:$PULSAR_WEB_PORT#g" \
		-e "s#@KAFKA_BROKERS@#$kafka_brokers#g" \
		-e "s#@REPLICATE_CHANNEL@#$SRC_PREFIX-replicate-msg#g" \
		"$tmpl" >"$STATE/cdc.yaml"
	! grep -n '@[A-Z_]*@' "$STATE/cdc.yaml" >&2 || die "unrendered placeholder in $STATE/cdc.yaml"
}

# ---------------------------------------------------------------- commands

cmd_up() {
	local t_all t
	t_all=$(now)
	case $MQ in pulsar | kafka) ;; *) die "--mq must be pulsar or kafka, not '$MQ'" ;; esac
	case $TARGET_MODE in api | replicate) ;; *) die "--target-mode (TARGET_MODE) must be api or replicate, not '$TARGET_MODE'" ;; esac
	local c
	for c in "${ALL_COMPONENTS[@]}"; do
		if running "$c" >/dev/null; then die "$c is already running (pid $(running "$c")); run '$0 down' first"; fi
	done
	# Whatever fails from here on, leave nothing half-started behind.
	trap 'up_failed' EXIT
	cmd_install
	local ports=("$ETCD_CLIENT_PORT" "$ETCD_PEER_PORT" "$SRC_METRICS_PORT" "$DST_METRICS_PORT")
	local p
	for p in $(milvus_ports "$SRC_PORT_OFFSET") $(milvus_ports "$DST_PORT_OFFSET"); do ports+=("$p"); done
	case $MQ in
	# The in-JVM bookie of Pulsar's standalone binds a random port, whatever
	# --bookkeeper-port says, so only the broker ports are checked.
	pulsar) ports+=("$PULSAR_PORT" "$PULSAR_WEB_PORT") ;;
	kafka) ports+=("$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT") ;;
	esac
	check_ports_free "${ports[@]}"
	# A fresh bed on every `up`: Milvus metadata in etcd and the broker's topics must agree.
	rm -rf "$STATE/etcd" "$STATE/pulsar" "$STATE/kafka" "$STATE/src" "$STATE/dst" "$STATE/env" "$STATE/cdc.yaml"
	mkdir -p "$STATE"
	{ df -P "$STATE" | awk 'NR == 2 && $5 + 0 > 90 { print "[testbed] WARNING: disk " $5 " full; the bookie turns read-only above 99%" }' >&2; } || true
	echo "$MQ" >"$STATE/mq"

	t=$(now); start_etcd; log "phase start etcd: $(elapsed "$t") s"
	t=$(now)
	case $MQ in
	pulsar) start_pulsar ;;
	kafka) start_kafka ;;
	esac
	log "phase start $MQ: $(elapsed "$t") s"
	t=$(now)
	# shellcheck disable=SC2046
	render_milvus src "$SRC_PREFIX" $SRC_PORT_OFFSET $(src_mq_settings) common.ttMsgEnabled=true
	start_milvus src $SRC_METRICS_PORT
	log "phase start source milvus: $(elapsed "$t") s"
	t=$(now)
	# TARGET_MODE=api: a normal target (ttMsgEnabled=true); the "api" writer replays
	# through the ordinary SDK API, which a ttMsgEnabled=false instance refuses.
	# TARGET_MODE=replicate: ttMsgEnabled=false, the mode the "replicate" writer
	# needs (it accepts ReplicateMessage and takes its time ticks from the writer).
	local tt=true
	[[ $TARGET_MODE == replicate ]] && tt=false
	render_milvus dst "$DST_PREFIX" $DST_PORT_OFFSET mq.type=rocksmq common.ttMsgEnabled=$tt
	start_milvus dst $DST_METRICS_PORT
	log "phase start target milvus: $(elapsed "$t") s"
	write_cdc_config
	write_env
	trap - EXIT
	log "bed up in $(elapsed "$t_all") s (mq=$MQ, target mode=$TARGET_MODE); addresses in $STATE/env"
	cmd_status
}

# stop COMPONENT: SIGTERM the recorded PID, wait, SIGKILL after a grace period.
stop_component() {
	local c=$1 pid grace
	if ! pid=$(running "$c"); then
		[[ -f $(pidfile "$c") ]] && log "$c: recorded process is gone; removing its stale pid file"
		rm -f "$(pidfile "$c")"
		return 0
	fi
	# Milvus 2.3 standalone sometimes hangs in its graceful stop (components
	# retrying the already-stopped rootcoord); the bed is wiped on the next `up`,
	# so a SIGKILL after the grace period loses nothing.
	case $c in src | dst) grace=${TESTBED_MILVUS_STOP_GRACE:-20} ;; *) grace=30 ;; esac
	local t
	t=$(now)
	kill -TERM "$pid" 2>/dev/null || true
	local deadline=$(($(date +%s) + grace))
	while kill -0 "$pid" 2>/dev/null; do
		if (($(date +%s) >= deadline)); then
			log "$c (pid $pid) still running after ${grace}s; SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
			sleep 0.5
			break
		fi
		sleep 0.2
	done
	rm -f "$(pidfile "$c")"
	log "stopped $c (pid $pid) in $(elapsed "$t") s"
}

# The two Milvus stop side by side (each may use its whole grace period),
# before the broker and etcd they use.
cmd_down() {
	local i
	stop_component dst &
	stop_component src &
	wait
	for ((i = ${#ALL_COMPONENTS[@]} - 1; i >= 0; i--)); do
		case ${ALL_COMPONENTS[i]} in src | dst) continue ;; esac
		stop_component "${ALL_COMPONENTS[i]}"
	done
}

cmd_status() {
	local c pid any=0
	printf '%-7s %-8s %-8s %s\n' COMPONENT PID RSS_MB "LISTENING (127.0.0.1)"
	for c in "${ALL_COMPONENTS[@]}"; do
		if pid=$(running "$c"); then
			any=1
			local ports
			ports=$(ss -Hltnp 2>/dev/null | grep -E "pid=$pid," | awk '{ n = split($4, a, ":"); print a[n] }' | sort -n | uniq | tr '\n' ' ')
			printf '%-9s %-8s %-8s %s\n' "$c" "$pid" "$(rss_mb "$pid")" "$ports"
		elif [[ -f $(pidfile "$c") ]]; then
			printf '%-9s %-8s %-8s %s\n' "$c" "-" "-" "DEAD (pid file $(pidfile "$c") left; see '$0 logs $c')"
		fi
	done
	((any)) || echo "(nothing running)"
	[[ -f $STATE/env ]] && echo "env: $STATE/env"
	return 0
}

cmd_logs() {
	local n=60 comps=()
	while (($#)); do
		case $1 in
		-n) n=$2; shift 2 ;;
		*) comps+=("$1"); shift ;;
		esac
	done
	((${#comps[@]})) || comps=("${ALL_COMPONENTS[@]}")
	local c lf
	for c in "${comps[@]}"; do
		lf=$(logfile "$c")
		[[ -f $lf ]] || continue
		echo "===== $c: $lf"
		tail -n "$n" "$lf"
	done
}

main() {
	local cmd=${1:-}
	(($#)) && shift
	local rest=()
	while (($#)); do
		case $1 in
		--mq) MQ=$2; shift 2 ;;
		--mq=*) MQ=${1#--mq=}; shift ;;
		--target-mode) TARGET_MODE=$2; shift 2 ;;
		--target-mode=*) TARGET_MODE=${1#--target-mode=}; shift ;;
		*) rest+=("$1"); shift ;;
		esac
	done
	case $cmd in
	up) cmd_up ;;
	down) cmd_down ;;
	status) cmd_status ;;
	logs) cmd_logs ${rest[@]+"${rest[@]}"} ;;
	install) cmd_install ;;
	*) sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 2 ;;
	esac
}

main "$@"
