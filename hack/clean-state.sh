#!/usr/bin/env bash
# Removes from the host's Docker and Podman everything this project's names
# or labels mark: containers, buildx builders, images, volumes and networks.
# CI runs it before `make test` so that no test can lean on something an
# earlier run left behind (it once hid a failing `make test`). It does not
# touch the provisioning cache: point REPRO_MATRIX_CACHE at an empty folder.
set -uo pipefail

say() { printf 'clean-state: %s\n' "$*"; }
LABEL=org.repro-matrix.run

# clean ENGINE: one engine's leftovers; an engine that does not answer has none
# to remove.
clean() {
  local e=$1
  command -v "$e" >/dev/null 2>&1 || return 0
  "$e" info >/dev/null 2>&1 || { say "$e does not answer: nothing to clean"; return 0; }
  local ids
  ids=$({ "$e" ps -aq --filter "label=$LABEL"; "$e" ps -aq --filter name=repro-matrix; "$e" ps -aq --filter name=buildx_buildkit_repro-matrix; } | sort -u)
  [ -n "$ids" ] && { say "$e: removing containers $(echo $ids)"; "$e" rm -f -v $ids >/dev/null; }
  if [ "$e" = docker ]; then
    local b
    for b in $(docker buildx ls --format '{{.Name}}' 2>/dev/null | grep '^repro-matrix' | sort -u); do
      say "docker: removing buildx builder $b"; docker buildx rm --force "$b" >/dev/null 2>&1
    done
  fi
  ids=$({ "$e" volume ls -q --filter "label=$LABEL"; "$e" volume ls -q | grep -E 'repro-matrix'; } | sort -u)
  [ -n "$ids" ] && { say "$e: removing volumes $(echo $ids)"; "$e" volume rm -f $ids >/dev/null; }
  ids=$({ "$e" network ls -q --filter "label=$LABEL"; "$e" network ls --format '{{.Name}}' | grep -E '^repro-matrix'; } | sort -u)
  [ -n "$ids" ] && { say "$e: removing networks $(echo $ids)"; "$e" network rm $ids >/dev/null; }
  ids=$("$e" images --format '{{.Repository}}:{{.Tag}}' | grep -E '(^|/)repro-matrix/' | sort -u)
  [ -n "$ids" ] && { say "$e: removing images $(echo $ids)"; "$e" rmi -f $ids >/dev/null; }
  "$e" image prune -f >/dev/null 2>&1
  return 0
}

clean docker
clean podman
rm -rf "${BUILDX_CONFIG:-$HOME/.docker/buildx}"/instances/repro-matrix-* 2>/dev/null
say "done"
