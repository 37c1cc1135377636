# shellcheck shell=bash # Docker's part of the entrypoint: internal/provision appends it to entrypoint.sh.

args=(dockerd --host "unix://$SOCKET_DIR/docker.sock" --data-root /var/lib/docker)
if needs_capfilter; then
  say "capability bounding set lacks $(missing_caps): default runtime repro-runc"
  args+=(--add-runtime "repro-runc=$LIBEXEC/repro-runc" --default-runtime repro-runc)
fi
# A dockerd built from its Go module comes without docker-init. buildx's
# builders run with --init, which bind-mounts it into containers of any
# libc, so it must be static: catatonit is (the init Podman uses), forky's
# tini is not.
if ! command -v docker-init >/dev/null && command -v catatonit >/dev/null; then
  args+=(--init-path "$(command -v catatonit)")
fi
registry=()
if [ -n "${REPRO_REGISTRY_ADDR:-}" ]; then
  registry=("$LIBEXEC/repro-registry" -addr "$REPRO_REGISTRY_ADDR" -dir /var/lib/repro-registry)
fi
if [ -n "$DRY_RUN" ]; then
  nest_cgroup_v2
  [ ${#registry[@]} -eq 0 ] || echo "sidecar: ${registry[*]}"
  echo "exec: ${args[*]} $*"
  exit 0
fi
nest_cgroup_v2
if [ ${#registry[@]} -gt 0 ]; then
  say "registry sidecar on $REPRO_REGISTRY_ADDR"
  "${registry[@]}" &
fi
mkdir -p "$SOCKET_DIR"
rm -f "$SOCKET_DIR/docker.sock" /var/run/docker.pid
say "starting: ${args[*]} $*"
exec "${args[@]}" "$@"
