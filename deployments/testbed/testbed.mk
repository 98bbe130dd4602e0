# Test bed targets (deployments/testbed). The main Makefile includes this file with
#   -include deployments/testbed/testbed.mk
# and it also works alone: make -f deployments/testbed/testbed.mk e2e
#
#   make testbed-up     [MQ=pulsar|kafka]   install (cached) and start the bed; writes .testbed/env
#   make testbed-down                       stop what testbed-up started
#   make testbed-status                     what runs, PIDs, RSS, ports
#   make testbed-logs   [C=src]             tail the component logs
#   make nemesis        [MQ=pulsar|kafka]   the fault suite (test/e2e/nemesis_test.go) on its own bed
#   make e2e            [MQ=pulsar|kafka] [TARGET_MODE=api|replicate] [E2E_RUN=regexp]
#                                           testbed-up, the e2e tests, testbed-down (always);
#                                           E2E_RUN selects tests as go test -run does,
#                                           E2E_SKIP leaves tests out as go test -skip does

MQ ?= pulsar
# TARGET_MODE=replicate starts the target with common.ttMsgEnabled=false and the
# e2e harness creates its tasks with writer_mode "replicate".
TARGET_MODE ?= api
TESTBED ?= deployments/testbed/testbed.sh
E2E_PKGS ?= ./test/e2e/... ./corelib/source/...
E2E_FLAGS ?= -count=1 -timeout 30m
# E2E_RUN, when set, runs only the matching tests (go test -run); E2E_SKIP
# leaves out the matching ones (go test -skip).
E2E_RUN ?=
E2E_SKIP ?=
# E2E_TAGS are the build tags of the suite; "e2e nemesis" adds the fault suite.
E2E_TAGS ?= e2e
GO ?= go

.PHONY: testbed-up testbed-down testbed-status testbed-logs e2e nemesis

testbed-up:
	bash $(TESTBED) up --mq $(MQ) --target-mode $(TARGET_MODE)

testbed-down:
	bash $(TESTBED) down

testbed-status:
	bash $(TESTBED) status

testbed-logs:
	bash $(TESTBED) logs $(C)

# E2E_FAILED_LOGS, when set, is a directory that receives both Milvus's logs
# of a failed run before the bed comes down and takes them with it.
E2E_FAILED_LOGS ?=
define keep-bed-logs
mkdir -p '$(1)' && for c in src dst; do cp -r "$${MILVUS_CDC_BED_STATE:-$(CURDIR)/.testbed}/$$c/logs" '$(1)/'$$c || true; done && echo "[e2e] the bed's Milvus logs are kept in $(1)" >&2;
endef

# The bed always comes down, and the exit code is the tests' (or testbed-up's).
e2e:
	@start=$$(date +%s); \
	bash $(TESTBED) up --mq $(MQ) --target-mode $(TARGET_MODE); rc=$$?; \
	echo "[e2e] phase testbed-up: $$(( $$(date +%s) - start )) s (exit $$rc)"; \
	if [ $$rc -eq 0 ]; then \
		t=$$(date +%s); \
		bedenv=$${MILVUS_CDC_BED_STATE:-$(CURDIR)/.testbed}/env; pulsar=$$(sed -n "s/^PULSAR_ADDRESS=//p" $$bedenv); web=$$(sed -n "s/^PULSAR_WEB_ADDRESS=//p" $$bedenv); kafka=$$(sed -n "s/^KAFKA_BROKERS=//p" $$bedenv); \
		TESTBED_ENV=$${TESTBED_ENV:-$$bedenv} MILVUS_CDC_TEST_PULSAR_URL=$$pulsar MILVUS_CDC_TEST_PULSAR_WEB_URL=$$web MILVUS_CDC_TEST_KAFKA_BROKERS=$$kafka \
		CGO_ENABLED=0 $(GO) test -tags '$(E2E_TAGS)' $(E2E_FLAGS) $(if $(E2E_RUN),-run '$(E2E_RUN)') $(if $(E2E_SKIP),-skip '$(E2E_SKIP)') $(E2E_PKGS); rc=$$?; \
		echo "[e2e] phase go test: $$(( $$(date +%s) - t )) s (exit $$rc)"; \
		if [ $$rc -ne 0 ]; then bash $(TESTBED) logs -n 40 src dst >&2 || true; $(if $(E2E_FAILED_LOGS),$(call keep-bed-logs,$(E2E_FAILED_LOGS))) fi; \
	fi; \
	t=$$(date +%s); \
	bash $(TESTBED) down || true; \
	echo "[e2e] phase testbed-down: $$(( $$(date +%s) - t )) s"; \
	echo "[e2e] total: $$(( $$(date +%s) - start )) s, MQ=$(MQ), TARGET_MODE=$(TARGET_MODE), exit $$rc"; \
	exit $$rc

# The fault suite: kill -9, target, broker and etcd outages, junk bytes, drop
# and recreate, each ending with a key-by-key validation; NEMESIS_RESULTS
# receives its table.
NEMESIS_RESULTS ?= $(CURDIR)/.testbed-nemesis.md
nemesis:
	NEMESIS_RESULTS=$(NEMESIS_RESULTS) $(MAKE) -f $(firstword $(MAKEFILE_LIST)) e2e E2E_TAGS='e2e nemesis' E2E_RUN='^TestNemesis$$' E2E_PKGS=./test/e2e/ MQ=$(MQ) TARGET_MODE=$(TARGET_MODE)
