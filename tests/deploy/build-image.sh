#!/usr/bin/env bash
# Builds deploy/docker/Dockerfile into promfeed:<version> without a Docker engine or registry,
# then runs the image and checks it. Needs root, apt and a Debian mirror; no Docker Hub.
#
#   1. installs buildah, podman, debootstrap (apt-get, only what is missing);
#   2. makes the base images locally: debootstrap --variant=minbase bookworm, imported with
#      `podman import` as docker.io/library/debian:12 and (docs stripped, dpkg excludes as in
#      the official slim image) docker.io/library/debian:12-slim;
#   3. `buildah bud --isolation chroot --storage-driver vfs --pull=never` of the Dockerfile
#      (the build stage compiles promfeed and packs the .deb; the runtime stage installs it);
#   4. runs the image: --version, the image's USER, `id` in the container, and the daemon
#      started with a config on ports chosen at run time, answering /-/healthy as uid 65532.
#      When podman cannot run containers here, step 4 runs the image's rootfs with
#      `chroot --userspec=65532:65532` instead.
#
# Idempotent: base images and the debootstrap tree are reused; the image is rebuilt each run.
# Everything lives under ${PROMFEED_IMAGE_WORK:-/var/tmp/promfeed-image} (its own container
# storage, so nothing touches /var/lib/containers); `rm -rf` it to start over.
# Slow (the build stage compiles the daemon): not part of scripts/test.sh.
# Env: DEBIAN_MIRROR (default http://deb.debian.org/debian), PROMFEED_IMAGE_WORK,
#   PROMFEED_IMAGE_FROM_HEAD=1 (build context: `git archive HEAD`, not the working tree),
#   PROMFEED_IMAGE_REUSE=1 (skip the build when the image exists; only run the checks).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
WORK="${PROMFEED_IMAGE_WORK:-/var/tmp/promfeed-image}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
VERSION="$(sed -n 's/^project(promfeed VERSION \([0-9.]*\).*/\1/p' "$ROOT/CMakeLists.txt")"
TAG="localhost/promfeed:$VERSION"
STORE=(--root "$WORK/storage" --runroot "$WORK/runroot" --storage-driver vfs)
BUILDAH=(buildah "${STORE[@]}")
# runc, not crun: crun refuses hybrid cgroup (v1 + v2) hierarchies, which some hosts have.
PODMAN=(podman "${STORE[@]}" --cgroup-manager=cgroupfs --events-backend=file --runtime runc)
# Containers get this shell's open-files limit and a small process limit: podman's defaults
# raise both, which needs CAP_SYS_RESOURCE (missing in some CI sandboxes).
RUN_FLAGS=(--network host --ulimit "nofile=$(ulimit -Hn):$(ulimit -Hn)" --ulimit nproc=4096:4096)

say() { echo "build-image: $*"; }
fail() {
  echo "build-image: FAIL: $*" >&2
  exit 1
}
check() { # check WHAT EXPECTED ACTUAL
  if [ "$2" = "$3" ]; then say "ok: $1: $3"; else fail "$1: want '$2', got '$3'"; fi
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

[ "$(id -u)" -eq 0 ] || fail "run as root (debootstrap and chroot isolation need it)"
[ -n "$VERSION" ] || fail "no project version in $ROOT/CMakeLists.txt"
mkdir -p "$WORK"

# ---- 1. Tools --------------------------------------------------------------------------------
pkgs=(buildah podman debootstrap runc curl python3)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
say "$(buildah --version); $(podman --version)"

# ---- 2. Base images debian:12 and debian:12-slim -----------------------------------------------
rootfs="$WORK/debian-12"
if [ ! -f "$rootfs.debootstrapped" ]; then
  say "debootstrap --variant=minbase bookworm $rootfs $MIRROR"
  rm -rf "$rootfs"
  debootstrap --variant=minbase bookworm "$rootfs" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
    || fail "debootstrap failed, see $WORK/debootstrap.log: $(tail -3 "$WORK/debootstrap.log")"
  touch "$rootfs.debootstrapped"
fi
[ -x "$rootfs/usr/bin/apt-get" ] || fail "$rootfs is not a Debian tree; remove $rootfs.debootstrapped"
# The sources of the official image; an apt proxy of this machine applies inside too.
rm -f "$rootfs/etc/apt/sources.list"
cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${MIRROR%/debian}/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
apt-config dump | grep -Ei '^Acquire::(https?|ftp)::Proxy' >"$rootfs/etc/apt/apt.conf.d/01proxy" \
  || rm -f "$rootfs/etc/apt/apt.conf.d/01proxy"
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
# As the official -slim image: no docs, man pages or locales, now or in later installs.
slim_extra="$WORK/slim-extra"
mkdir -p "$slim_extra/etc/dpkg/dpkg.cfg.d"
printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
  'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' \
  'path-exclude /usr/share/locale/*' 'path-exclude /usr/share/lintian/*' \
  >"$slim_extra/etc/dpkg/dpkg.cfg.d/docker"
import_base() { # import_base NAME SLIM(0|1)
  if "${PODMAN[@]}" image exists "docker.io/library/$1"; then
    say "base image docker.io/library/$1 present"
    return
  fi
  local tar_args=(-C "$rootfs" .)
  if [ "$2" = 1 ]; then
    tar_args=(--exclude='./usr/share/doc/*' --exclude='./usr/share/man/*'
      --exclude='./usr/share/info/*' --exclude='./usr/share/locale/*'
      --exclude='./usr/share/lintian/*'
      -C "$rootfs" . -C "$slim_extra" ./etc/dpkg/dpkg.cfg.d/docker)
  fi
  say "importing $rootfs as docker.io/library/$1"
  tar --numeric-owner -c "${tar_args[@]}" \
    | "${PODMAN[@]}" import --quiet --change 'CMD ["bash"]' - "docker.io/library/$1" >/dev/null
}
import_base debian:12 0
import_base debian:12-slim 1

# ---- 3. Build -----------------------------------------------------------------------------------
start=$(date +%s)
if [ "${PROMFEED_IMAGE_REUSE:-0}" = 1 ] && "${PODMAN[@]}" image exists "$TAG"; then
  say "PROMFEED_IMAGE_REUSE=1: not rebuilding $TAG"
else
  say "building $TAG (log: $WORK/build.log)"
  context="$ROOT"
  if [ "${PROMFEED_IMAGE_FROM_HEAD:-0}" = 1 ]; then
    # The committed tree only (other work in progress in the checkout stays out).
    context="$WORK/context"
    rm -rf "$context" && mkdir -p "$context"
    git -C "$ROOT" archive HEAD | tar -x -C "$context"
    say "context: git archive of $(git -C "$ROOT" rev-parse --short HEAD)"
  fi
  if ! nice "${BUILDAH[@]}" bud --isolation chroot --pull=never --network host \
      --ignorefile "$context/deploy/docker/Dockerfile.dockerignore" \
      -f "$context/deploy/docker/Dockerfile" -t "$TAG" "$context" >"$WORK/build.log" 2>&1; then
    tail -20 "$WORK/build.log" >&2
    fail "buildah bud failed (full log: $WORK/build.log)"
  fi
fi
say "image $TAG after $(($(date +%s) - start))s: $("${PODMAN[@]}" image inspect -f '{{.Id}} {{.Size}} bytes' "$TAG")"
grep -E '^promfeed, version' "$WORK/build.log" | sed 's/^/build-image: in the build: /' || true

# ---- 4. Run -------------------------------------------------------------------------------------
check "image USER" "65532:65532" "$("${PODMAN[@]}" image inspect -f '{{.Config.User}}' "$TAG")"
check "image ENTRYPOINT" "[/usr/bin/promfeed]" \
  "$("${PODMAN[@]}" image inspect -f '{{.Config.Entrypoint}}' "$TAG")"

check_dir="$WORK/check"
mkdir -p "$check_dir"
web_port=$(free_port)
grpc_port=$(free_port)
up_port=$(free_port) # nothing listens there: /-/healthy answers without an upstream
cat >"$check_dir/promfeed.yml" <<EOF
upstream:
  url: http://127.0.0.1:$up_port
inputs:
  - selector: up
EOF
chmod 0644 "$check_dir/promfeed.yml"
daemon_flags=(--config.file=/etc/promfeed/check.yml
  "--grpc.listen-address=127.0.0.1:$grpc_port" "--web.listen-address=127.0.0.1:$web_port")

wait_healthy() { # wait_healthy PID-of-daemon-on-the-host
  local body=""
  for _ in $(seq 1 60); do
    body=$(curl -fsS "http://127.0.0.1:$web_port/-/healthy" 2>/dev/null) && break
    kill -0 "$1" 2>/dev/null || fail "the daemon exited before answering /-/healthy"
    sleep 0.5
  done
  [ -n "$body" ] || fail "no answer on http://127.0.0.1:$web_port/-/healthy"
  say "ok: GET http://127.0.0.1:$web_port/-/healthy: $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$web_port/-/healthy") $body"
  check "uid:gid of the daemon process (host /proc/$1/status)" "65532:65532" \
    "$(awk '/^Uid:/{u=$2} /^Gid:/{g=$2} END{print u":"g}' "/proc/$1/status")"
}

name="promfeed-image-check-$$"
if out=$("${PODMAN[@]}" run --rm "${RUN_FLAGS[@]}" "$TAG" --version 2>&1); then
  check "podman run $TAG --version" "promfeed, version $VERSION" "$out"
  check "uid:gid in the container (id -u, id -g)" "65532:65532" \
    "$("${PODMAN[@]}" run --rm "${RUN_FLAGS[@]}" --entrypoint /bin/sh "$TAG" -c 'echo "$(id -u):$(id -g)"')"
  trap '"${PODMAN[@]}" rm -f "$name" >/dev/null 2>&1 || true' EXIT
  "${PODMAN[@]}" run -d --name "$name" "${RUN_FLAGS[@]}" \
    -v "$check_dir/promfeed.yml:/etc/promfeed/check.yml:ro" "$TAG" "${daemon_flags[@]}" >/dev/null
  pid=$("${PODMAN[@]}" inspect -f '{{.State.Pid}}' "$name")
  say "container $name runs as host pid $pid"
  wait_healthy "$pid"
  "${PODMAN[@]}" stop -t 10 "$name" >/dev/null
  check "exit code after podman stop (SIGTERM)" "0" \
    "$("${PODMAN[@]}" inspect -f '{{.State.ExitCode}}' "$name")"
else
  say "podman run failed here ($out); checking the image's rootfs with chroot instead"
  ctr=$("${BUILDAH[@]}" from --pull=never "$TAG")
  trap '"${BUILDAH[@]}" rm "$ctr" >/dev/null 2>&1 || true' EXIT
  mnt=$("${BUILDAH[@]}" mount "$ctr")
  check "chroot --userspec=65532:65532 promfeed --version" "promfeed, version $VERSION" \
    "$(chroot --userspec=65532:65532 "$mnt" /usr/bin/promfeed --version)"
  cp "$check_dir/promfeed.yml" "$mnt/etc/promfeed/check.yml"
  chroot --userspec=65532:65532 "$mnt" /usr/bin/promfeed "${daemon_flags[@]}" \
    >"$check_dir/daemon.log" 2>&1 &
  pid=$!
  trap 'kill "$pid" 2>/dev/null || true; "${BUILDAH[@]}" rm "$ctr" >/dev/null 2>&1 || true' EXIT
  wait_healthy "$pid"
  kill -TERM "$pid"
  wait "$pid" && rc=0 || rc=$?
  check "exit code after SIGTERM" "0" "$rc"
fi
say "PASS: $TAG built and checked"
