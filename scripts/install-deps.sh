#!/usr/bin/env bash
# Installs every Debian package promfeed needs to build, test and run its main job.
# Idempotent and non-interactive; safe to re-run.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git curl ca-certificates clang-format
  libboost-dev libboost-system-dev
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  libspdlog-dev libfmt-dev libyaml-cpp-dev libsimdjson-dev libre2-dev libabsl-dev
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  prometheus prometheus-node-exporter
  prometheus-cpp-dev libsystemd-dev systemd
  dpkg-dev
  clang libclang-rt-14-dev
  python3 python3-venv python3-pip python3-dev pybind11-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# Never let package installs start Prometheus/node-exporter as system services:
# tests and the demo start their own instances on ports chosen at run time.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
