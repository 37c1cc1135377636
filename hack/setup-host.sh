#!/usr/bin/env bash
# Host set-up for repro-matrix: idempotent, prints what it changes.
#
# Installs what is missing (docker.io, podman, runc, mmdebstrap, a buildx
# plugin), applies the fixes that this kind of host needs (shared/ENVIRONMENT.md)
# only when the host needs them, and starts dockerd when none answers.
# On a host it cannot set up (not root, not Debian) it stops before changing
# anything.
set -euo pipefail

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

ROOT=$(cd "$(dirname "$0")/.." && pwd)
LIBEXEC=/usr/local/libexec/repro-matrix
PLUGINS=/usr/local/lib/docker/cli-plugins
DOCKERD_LOG=/var/log/repro-matrix-dockerd.log

check_host() {
  [ "$(id -u)" -eq 0 ] || die "must run as root (it installs packages and starts dockerd); run: sudo make setup"
  command -v go >/dev/null || die "go is not on PATH"
}

# debian_family fails unless packages can be installed the way this script
# knows: apt on Debian (or a derivative such as a CI runner's Ubuntu).
debian_family() {
  [ -r /etc/os-release ] || die "no /etc/os-release: cannot install $*; install them by hand"
  # shellcheck disable=SC1091
  . /etc/os-release
  case " ${ID:-} ${ID_LIKE:-} " in
    *" debian "*) ;;
    *) die "this is ${PRETTY_NAME:-an unknown system}, not Debian: install $* by hand" ;;
  esac
}

# need lists the packages whose command is missing: "command:package".
need() {
  local missing=()
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
  done
  echo "${missing[@]}"
}

# apt_install installs the named packages.
apt_install() {
  local missing=("$@")
  [ ${#missing[@]} -eq 0 ] && return 0
  debian_family "${missing[*]}"
  say "installing ${missing[*]}"
  if [ ! -f /var/lib/repro-matrix-apt-updated ] || [ -n "$(find /var/lib/repro-matrix-apt-updated -mmin +720)" ]; then
    apt-get update -qq
    touch /var/lib/repro-matrix-apt-updated
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# debian_mirror prints the Debian archive of the host's apt sources.
debian_mirror() { bash "$ROOT/hack/debian-mirror.sh" || die "cannot find the Debian archive"; }

# debian_suites adds trixie and forky with a low pin priority, so the host
# stays on its own suite while single packages (buildx) can come from them.
debian_suites() {
  local list=/etc/apt/sources.list.d/repro-matrix-suites.list pref=/etc/apt/preferences.d/repro-matrix-suites
  [ -f "$list" ] && return 0
  say "adding Debian trixie and forky with pin priority 1 ($list)"
  local mirror; mirror=$(debian_mirror)
  printf 'deb %s trixie main\ndeb %s forky main\n' "$mirror" "$mirror" >"$list"
  printf 'Package: *\nPin: release n=trixie\nPin-Priority: 1\n\nPackage: *\nPin: release n=forky\nPin-Priority: 1\n' >"$pref"
  # forky's Release file is past its Valid-Until on the mirror.
  printf 'Acquire::Check-Valid-Until "false";\n' >/etc/apt/apt.conf.d/99repro-matrix-valid-until
  apt-get update -qq
  touch /var/lib/repro-matrix-apt-updated
}

# buildx installs the docker-buildx plugin from forky's package when the
# docker CLI has none.
buildx() {
  if docker buildx version >/dev/null 2>&1; then return 0; fi
  debian_family docker-buildx
  debian_suites
  local tmp; tmp=$(mktemp -d)
  chmod 0755 "$tmp" # apt downloads as the _apt user
  say "installing the docker-buildx plugin from forky into $PLUGINS"
  (cd "$tmp" && apt-get download -qq docker-buildx/forky >/dev/null) || die "cannot download docker-buildx from forky"
  dpkg-deb -x "$tmp"/docker-buildx_*.deb "$tmp/x"
  mkdir -p "$PLUGINS"
  install -m 0755 "$tmp/x/usr/libexec/docker/cli-plugins/docker-buildx" "$PLUGINS/docker-buildx"
  rm -rf "$tmp"
  docker buildx version >/dev/null || die "docker buildx does not run after install"
}

# needs_capfilter: privileged containers ask for every capability; a host
# whose bounding set lacks one needs the repro-runc wrapper.
needs_capfilter() {
  local bnd; bnd=$(awk '/^CapBnd:/ {print $2}' /proc/self/status)
  local last; last=$(cat /proc/sys/kernel/cap_last_cap)
  local want=$(( (1 << (last + 1)) - 1 ))
  [ $(( 0x$bnd & want )) -ne "$want" ]
}

install_capfilter() {
  mkdir -p "$LIBEXEC"
  local new="$LIBEXEC/repro-runc.new"
  (cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -o "$new" ./cmd/repro-runc)
  if cmp -s "$new" "$LIBEXEC/repro-runc"; then rm -f "$new"; return 0; fi
  mv "$new" "$LIBEXEC/repro-runc"
  say "installed $LIBEXEC/repro-runc (drops capabilities the host's bounding set lacks)"
}

# dockerd_config writes daemon.json only when the host needs the runtime
# wrapper; it refuses to overwrite a daemon.json that is not its own.
dockerd_config() {
  local conf=/etc/docker/daemon.json
  needs_capfilter || return 0
  local want
  want=$(printf '{\n  "runtimes": {"repro-runc": {"path": "%s/repro-runc"}},\n  "default-runtime": "repro-runc"\n}\n' "$LIBEXEC")
  if [ -f "$conf" ] && [ "$(cat "$conf")" = "$want" ]; then return 0; fi
  if [ -f "$conf" ] && ! grep -q repro-runc "$conf"; then
    die "$conf exists and is not repro-matrix's: add the runtime $LIBEXEC/repro-runc to it by hand"
  fi
  mkdir -p /etc/docker
  printf '%s' "$want" >"$conf"
  say "wrote $conf (default runtime repro-runc: the capability bounding set lacks $(missing_caps))"
  restart_dockerd=1
}

missing_caps() { "$LIBEXEC/repro-runc" --list-missing; }

# podman_config writes a containers.conf drop-in with only the settings
# this host needs: the runtime wrapper, runc on a cgroup v1/hybrid host, and
# ulimits within the host's hard limits.
podman_config() {
  local conf=/etc/containers/containers.conf.d/50-repro-matrix.conf body=""
  local hard_nofile hard_nproc
  hard_nofile=$(ulimit -Hn); hard_nproc=$(ulimit -Hu)
  if [ "$hard_nofile" != unlimited ] && [ "$hard_nofile" -lt 1048576 ] || \
     [ "$hard_nproc" != unlimited ] && [ "$hard_nproc" -lt 4194304 ]; then
    body+=$'[containers]\ndefault_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]\n'
  fi
  local engine=""
  if needs_capfilter; then
    engine+=$'runtime = "repro-runc"\n[engine.runtimes]\nrepro-runc = ["'"$LIBEXEC"$'/repro-runc"]\n'
  elif [ ! -f /sys/fs/cgroup/cgroup.controllers ]; then
    engine+=$'runtime = "runc"\n' # crun refuses the hybrid cgroup layout
  fi
  [ -n "$engine" ] && body+=$'[engine]\n'"$engine"
  if [ -z "$body" ]; then
    [ -f "$conf" ] && { rm -f "$conf"; say "removed $conf (not needed on this host)"; }
    return 0
  fi
  if [ -f "$conf" ] && [ "$(cat "$conf")" = "$(printf "%s" "$body")" ]; then return 0; fi
  mkdir -p "$(dirname "$conf")"
  printf '%s' "$body" >"$conf"
  say "wrote $conf"
}

# rootless_user creates the unprivileged user whose Podman runs the rootless
# cells (useradd gives it subordinate ids), its image store on vfs (no
# fuse-overlayfs needed).
ROOTLESS_USER=repro-matrix-rootless
# A rootless BuildKit's rootlesskit maps ids 100000-165535 of its container
# (BuildKit's rootless image), so the user's Podman must map 165536 ids: its
# own and 165535 subordinate ones (internal/provision.RootlessIDsNeeded).
ROOTLESS_SUBIDS=165535

# subids FILE FLAG gives the rootless user ROOTLESS_SUBIDS subordinate ids
# in FILE, adding a range after every range already given (useradd gives
# 65536); it fails when nothing had to change.
subids() {
  local file=$1 flag=$2 have start
  touch "$file"
  have=$(awk -F: -v u="$ROOTLESS_USER" '$1 == u { n += $3 } END { print n + 0 }' "$file")
  [ "$have" -lt "$ROOTLESS_SUBIDS" ] || return 1
  start=$(awk -F: 'NF == 3 && $2 + $3 > m { m = $2 + $3 } END { print (m < 100000 ? 100000 : m) }' "$file")
  local range="$start-$((start + ROOTLESS_SUBIDS - have - 1))"
  usermod "$flag" "$range" "$ROOTLESS_USER" || { say "usermod $flag $range $ROOTLESS_USER failed"; exit 1; }
  say "$file: $ROOTLESS_USER now has $ROOTLESS_SUBIDS subordinate ids (added $range)"
}
rootless_user() {
  if ! id -u "$ROOTLESS_USER" >/dev/null 2>&1; then
    useradd --create-home --shell /usr/sbin/nologin "$ROOTLESS_USER"
    say "created user $ROOTLESS_USER for rootless Podman"
  fi
  local home conf changed=
  home=$(getent passwd "$ROOTLESS_USER" | cut -d: -f6)
  conf=$home/.config/containers/storage.conf
  if [ ! -f "$conf" ]; then
    mkdir -p "$(dirname "$conf")"
    printf '[storage]\ndriver = "vfs"\n' >"$conf"
    chown -R "$ROOTLESS_USER:" "$home/.config"
    say "wrote $conf"
  fi
  subids /etc/subuid --add-subuids && changed=1
  subids /etc/subgid --add-subgids && changed=1
  if [ -n "$changed" ]; then
    # Podman maps the new ranges from its next start; migrate restarts it.
    (cd / && runuser -u "$ROOTLESS_USER" -- podman system migrate) || say "podman system migrate of $ROOTLESS_USER failed"
  fi
}

start_dockerd() {
  if [ "${restart_dockerd:-0}" = 1 ] && pgrep -x dockerd >/dev/null; then
    say "restarting dockerd to apply daemon.json"
    pkill -x dockerd; for _ in $(seq 1 30); do pgrep -x dockerd >/dev/null || break; sleep 1; done
  fi
  if docker info >/dev/null 2>&1; then return 0; fi
  say "starting dockerd (log: $DOCKERD_LOG)"
  nohup dockerd >"$DOCKERD_LOG" 2>&1 &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && { say "dockerd answers"; return 0; }
    sleep 1
  done
  tail -n 20 "$DOCKERD_LOG" >&2
  die "dockerd did not answer within 60 s (log above)"
}

# emulation registers qemu-user-static for foreign platforms (linux/arm64).
# A host that cannot is told what it lacks; its linux/arm64 cells then fail
# (a build for another platform cannot run its RUN steps), the others run.
emulation() {
  # shellcheck disable=SC2046
  apt_install $(need qemu-aarch64-static:qemu-user-static update-binfmts:binfmt-support arch-test:arch-test)
  if ! mountpoint -q /proc/sys/fs/binfmt_misc && ! mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null; then
    say "warning: cannot mount binfmt_misc on /proc/sys/fs/binfmt_misc (the kernel lacks it, or this container may not mount): linux/arm64 cells will fail"
    return 0
  fi
  if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
    update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
    if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
      say "warning: update-binfmts could not register qemu-aarch64 in binfmt_misc: linux/arm64 cells will fail"
      return 0
    fi
    say "registered qemu-aarch64 for linux/arm64 builds"
  fi
}

main() {
  for flag in "$@"; do
    case "$flag" in
      # Emulation is always set up now (the local profile has linux/arm64
      # cells); the flag stays accepted for commands written before.
      --emulation) ;;
      *) die "unknown flag $flag (known: --emulation)" ;;
    esac
  done
  check_host
  # A running dockerd from elsewhere (Docker CE on a CI runner) is kept.
  local dockerd_pkg=docker.io
  docker info >/dev/null 2>&1 && dockerd_pkg=""
  # shellcheck disable=SC2046
  apt_install $(need ${dockerd_pkg:+dockerd:$dockerd_pkg} podman:podman runc:runc newuidmap:uidmap mmdebstrap:mmdebstrap iptables:iptables update-ca-certificates:ca-certificates shellcheck:shellcheck ip:iproute2)
  buildx
  emulation
  rootless_user
  if needs_capfilter; then install_capfilter; fi
  dockerd_config
  podman_config
  start_dockerd
  say "ready: $(docker version -f 'docker {{.Server.Version}}'), $(podman version -f 'podman {{.Client.Version}}'), $(docker buildx version | cut -d' ' -f1,2)"
}

main "$@"
