#!/usr/bin/env bash
# Regenerates etcd_meta.pb.go from etcd_meta.proto.
# Installs what it needs: protoc (Debian package protobuf-compiler) when it is
# missing, and protoc-gen-go at the version matching go.mod's protobuf runtime.
# Called by `make proto`; safe to run from any directory.
set -euo pipefail

PROTOC_GEN_GO_VERSION=v1.36.12
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if ! command -v protoc >/dev/null 2>&1; then
  echo "protoc not found; installing protobuf-compiler with apt-get" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq protobuf-compiler
fi

gobin="$(go env GOPATH)/bin"
gen="$gobin/protoc-gen-go"
if [ ! -x "$gen" ] || ! "$gen" --version 2>/dev/null | grep -q "${PROTOC_GEN_GO_VERSION}"; then
  echo "installing protoc-gen-go ${PROTOC_GEN_GO_VERSION}" >&2
  GOFLAGS=-mod=mod go install "google.golang.org/protobuf/cmd/protoc-gen-go@${PROTOC_GEN_GO_VERSION}"
fi

cd "$here"
PATH="$gobin:$PATH" protoc \
  --proto_path=. \
  --go_out=. --go_opt=paths=source_relative \
  etcd_meta.proto
echo "generated $here/etcd_meta.pb.go ($(protoc --version), $("$gen" --version))"
