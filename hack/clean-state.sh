#!/usr/bin/env bash
# Removes from the host's Docker and Podman everything this project's names
# or labels mark: containers, buildx builders, images, volumes and networks.
# CI runs it before `make test` so that no test can lean on something an
# earlier run left behind (it once hid a failing `make test`). It does not
# touch the provisioning cache: point REPRO_MATRIX_CACHE at an empty folder.
set -uo pipefail

say() { printf 'clean-state: %s\n' "$*"; }
LABEL=org.repro-matrix.run

# drop WHAT CMD...: runs CMD with the names read from standard input
# appended, if there are any.
drop() {
  local what=$1 ids
  shift
  mapfile -t ids < <(sed '/^$/d' | sort -u)
  [ ${#ids[@]} -eq 0 ] && return 0
  say "$what: ${ids[*]}"
  "$@" "${ids[@]}" >/dev/null 2>&1 || say "$what: not all could be removed"
}

# clean ENGINE: one engine's leftovers; an engine that does not answer has none
# to remove.
clean() {
  local e=$1
  command -v "$e" >/dev/null 2>&1 || return 0
  "$e" info >/dev/null 2>&1 || { say "$e does not answer: nothing to clean"; return 0; }
  { "$e" ps -aq --filter "label=$LABEL"; "$e" ps -aq --filter name=repro-matrix; "$e" ps -aq --filter name=buildx_buildkit_repro-matrix; } |
    drop "$e: removing containers" "$e" rm -f -v
  if [ "$e" = docker ]; then
    docker buildx ls --format '{{.Name}}' 2>/dev/null | grep '^repro-matrix' |
      while read -r b; do say "docker: removing buildx builder $b"; docker buildx rm --force "$b" >/dev/null 2>&1; done
  fi
  { "$e" volume ls -q --filter "label=$LABEL"; "$e" volume ls -q | grep repro-matrix; } | drop "$e: removing volumes" "$e" volume rm -f
  { "$e" network ls -q --filter "label=$LABEL"; "$e" network ls --format '{{.Name}}' | grep '^repro-matrix'; } | drop "$e: removing networks" "$e" network rm
  "$e" images --format '{{.Repository}}:{{.Tag}}' | grep -E '(^|/)repro-matrix/' | drop "$e: removing images" "$e" rmi -f
  "$e" image prune -f >/dev/null 2>&1
  return 0
}

clean docker
clean podman
# The rootless Podman's user exists for this project only: its store is reset.
if id -u repro-matrix-rootless >/dev/null 2>&1; then
  say "podman of repro-matrix-rootless: reset"
  (cd / && runuser -u repro-matrix-rootless -- podman system reset --force >/dev/null 2>&1) || say "podman of repro-matrix-rootless: reset failed"
fi
rm -rf "${BUILDX_CONFIG:-$HOME/.docker/buildx}"/instances/repro-matrix-* 2>/dev/null
say "done"
