#!/usr/bin/env bash
# `make fresh`: the README's two commands rehearsed on a fresh machine. A
# container made from a bare Debian bookworm root filesystem (mmdebstrap)
# holding only Go, git, make, gcc, ca-certificates (with the machine's own
# certificate authorities) and the docker client,
# run privileged with nothing cached: it clones this checkout's HEAD and
# runs `make test`, then `make matrix` (FRESH_TARGETS to change), printing
# the wall time of each. Everything it creates carries the run label and is
# removed at the end, also after a failure or Ctrl-C.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGETS=${FRESH_TARGETS:-test matrix}
# The container's reports (make matrix's summary.md, results.json, junit.xml).
OUT=${FRESH_REPORTS:-$ROOT/reports/fresh}
# A run id as the suite makes them, and its lock held while the rehearsal
# runs, so that another run's sweep (internal/runner) spares its container.
ID=$(date -u +%Y%m%d-%H%M%S)-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
NAME=repro-matrix-fresh-$ID
IMAGE=localhost/repro-matrix/fresh:bookworm
LABEL=org.repro-matrix.run=$ID
WORK=$(mktemp -d /var/tmp/repro-matrix-fresh.XXXXXX)
LOCKS=${TMPDIR:-/tmp}/repro-matrix-runs
mkdir -p "$LOCKS"
exec 9>"$LOCKS/$ID.lock"
flock -n 9

say() { printf 'fresh: %s\n' "$*"; }
cleanup() {
  docker rm -f -v "$NAME" >/dev/null 2>&1 || true
  docker volume rm -f "$NAME-docker" "$NAME-containers" "$NAME-home" >/dev/null 2>&1 || true
  rm -rf "$WORK" "$LOCKS/$ID.lock"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mirror() { bash "$ROOT/hack/debian-mirror.sh"; }

if ! docker info >/dev/null 2>&1; then
  echo "fresh: the host's Docker does not answer: run make setup" >&2
  exit 1
fi
GOROOT=$(go env GOROOT)

say "bare bookworm root filesystem with Go $(go env GOVERSION), git, make, gcc, ca-certificates, the docker client"
mmdebstrap --quiet --variant=minbase --mode=root --format=directory \
  --include=git,make,gcc,libc6-dev,ca-certificates bookworm "$WORK/rootfs" "$(mirror)"
# The machine's own certificate authorities (a machine of this kind trusts
# them; the package registries are reached through them here).
if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
  cp /usr/local/share/ca-certificates/*.crt "$WORK/rootfs/usr/local/share/ca-certificates/"
  chroot "$WORK/rootfs" update-ca-certificates >/dev/null
fi
mkdir -p "$WORK/rootfs/usr/local/bin"
cp -a "$GOROOT" "$WORK/rootfs/usr/local/go"
cp "$(command -v docker)" "$WORK/rootfs/usr/local/bin/docker"
tar -C "$WORK/rootfs" -c . | docker import --change 'ENV PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - "$IMAGE" >/dev/null
rm -rf "$WORK/rootfs"

rm -rf "$OUT" && mkdir -p "$OUT"
git -C "$ROOT" bundle create "$WORK/repo.bundle" HEAD >/dev/null 2>&1
# shellcheck disable=SC2016 # expanded by the container's shell
script='set -euo pipefail
git clone -q /fresh/repo.bundle /work/main && cd /work/main
for t in '"$TARGETS"'; do
  start=$(date +%s)
  make "$t" REPORTS=/fresh-reports
  echo "fresh: make $t passed in $(( $(date +%s) - start )) s"
done'
# stamp prefixes each line with the seconds since the container started and
# ends with the longest silence between two lines: no step may be quiet for
# long.
stamp() {
  local start=$SECONDS last=$SECONDS gap=0 where="" line
  while IFS= read -r line; do
    if (( SECONDS - last > gap )); then gap=$(( SECONDS - last )); where=$line; fi
    last=$SECONDS
    printf '[%5ds] %s\n' "$(( SECONDS - start ))" "$line"
  done
  say "longest silence: ${gap}s, before: $where"
}

# The engines' stores are volumes, as a machine's are real filesystems: on
# the container's own overlay root, a rootless Podman's BuildKit (its store
# in /home) cannot mount overlayfs, falls back to another snapshotter and
# builds other layers for some fixtures (whiteouts, hardlinks), which a
# machine of this kind does not.
say "container $NAME: make $TARGETS"
# Labelled volumes: if this script is killed outright, the next run's sweep
# (internal/runner) removes them with the container.
for v in docker containers home; do
  docker volume create --label "$LABEL" "$NAME-$v" >/dev/null
done
set -o pipefail
docker run --name "$NAME" --label "$LABEL" --privileged --cgroupns private \
  -v "$WORK:/fresh:ro" -v "$OUT:/fresh-reports" -v "$NAME-docker:/var/lib/docker" -v "$NAME-containers:/var/lib/containers" \
  -v "$NAME-home:/home" \
  -e GOPROXY="$(go env GOPROXY)" -e GOSUMDB="$(go env GOSUMDB)" -e GOFLAGS="$(go env GOFLAGS)" \
  -e REPRO_MATRIX_DEBIAN_MIRROR="$(mirror)" \
  "$IMAGE" bash -c "$script" 2>&1 | stamp
