#!/usr/bin/env bash
# demo.sh: milvus-cdc replicating a real Milvus, end to end, on this machine.
#
#   demo.sh start [--mq pulsar|kafka]   bed up, daemon up, task created, sample data
#                                        written to the source and shown on the target;
#                                        everything is left running
#   demo.sh stop                         stop the daemon (by PID) and bring the bed down
#
# The daemon listens on 127.0.0.1:${DEMO_PORT:-8444}; its log is .testbed/demo/daemon.log.
set -Eeuo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/../.." && pwd)
TESTBED=$REPO/deployments/testbed/testbed.sh
STATE=${MILVUS_CDC_BED_STATE:-$REPO/.testbed}
CACHE=${MILVUS_CDC_BED_CACHE:-$HOME/.cache/milvus-cdc-bed}
DEMO=$STATE/demo
PORT=${DEMO_PORT:-8444}
API=http://127.0.0.1:$PORT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

start() {
	local mq=pulsar
	[[ ${1:-} == --mq ]] && mq=$2
	say "1/5 bringing up the test bed (etcd, $mq, source and target Milvus)"
	bash "$TESTBED" up --mq "$mq"
	# shellcheck disable=SC1091
	set -a; source "$STATE/env"; set +a

	say "2/5 starting milvus-cdc on $API (task store in the bed's etcd)"
	mkdir -p "$DEMO"
	(cd "$REPO" && CGO_ENABLED=0 go build -o "$DEMO/milvus-cdc" ./cmd/milvus-cdc)
	MILVUS_CDC_ADDRESS=127.0.0.1:$PORT MILVUS_CDC_METASTORE_ROOTPATH=milvus-cdc-demo \
		nohup "$DEMO/milvus-cdc" --config "$CDC_CONFIG" > "$DEMO/daemon.log" 2>&1 &
	echo $! > "$DEMO/daemon.pid"
	for _ in $(seq 1 100); do
		curl -sf "$API/readyz" > /dev/null && break
		sleep 0.2
	done
	curl -sf "$API/readyz" > /dev/null || { tail -20 "$DEMO/daemon.log"; echo "daemon did not start"; exit 1; }

	say "3/5 creating a task that replicates every database and collection"
	local body
	body=$(printf '{"request_type":"create","request_data":{"milvus_connect_param":{"uri":"%s"},"db_collections":{"*":[{"name":"*"}]}}}' "$TARGET_MILVUS_URI")
	echo "curl -s $API/cdc -d '$body'"
	curl -s "$API/cdc" -d "$body"; echo

	say "4/5 writing sample data into the source and watching it arrive on the target"
	"$CACHE/venv/bin/python" -W ignore "$SCRIPT_DIR/sample_data.py" "$SOURCE_MILVUS_ADDR" "$TARGET_MILVUS_ADDR"

	say "5/5 the task, as the API reports it"
	curl -s "$API/cdc" -d '{"request_type":"list"}'; echo
	cat <<EOT

milvus-cdc keeps running (PID $(cat "$DEMO/daemon.pid"), log $DEMO/daemon.log), and so does the bed:
  source Milvus  $SOURCE_MILVUS_URI
  target Milvus  $TARGET_MILVUS_URI
  task API       $API/cdc  and  $API/api/v1/tasks
Write to the source and watch the target follow. To stop everything:
  make demo-stop
EOT
}

stop() {
	if [[ -f $DEMO/daemon.pid ]]; then
		local pid
		pid=$(cat "$DEMO/daemon.pid")
		if kill -0 "$pid" 2>/dev/null; then
			kill "$pid"
			for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
			echo "stopped milvus-cdc (pid $pid)"
		fi
		rm -f "$DEMO/daemon.pid"
	fi
	bash "$TESTBED" down
}

case ${1:-} in
start) shift; start "$@" ;;
stop) stop ;;
*) echo "usage: $0 start [--mq pulsar|kafka] | stop" >&2; exit 2 ;;
esac
