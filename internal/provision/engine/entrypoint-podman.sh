# shellcheck shell=bash # Podman's part of the entrypoint: internal/provision appends it to entrypoint.sh.

conf="$ETC/containers/containers.conf.d/50-repro-matrix.conf"
body=""
if low_rlimits; then
  say "hard rlimits below Podman's defaults: default_ulimits 4096"
  body+=$'[containers]\ndefault_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]\n'
fi
engine=""
if needs_capfilter; then
  say "capability bounding set lacks $(missing_caps): runtime repro-runc"
  engine+=$'runtime = "repro-runc"\n[engine.runtimes]\nrepro-runc = ["'"$LIBEXEC"$'/repro-runc"]\n'
elif ! cgroup_v2; then
  say "cgroup v1: runtime runc (crun refuses the hybrid layout)"
  engine+=$'runtime = "runc"\n'
fi
[ -z "$engine" ] || body+=$'[engine]\n'"$engine"
if [ -n "$DRY_RUN" ]; then
  nest_cgroup_v2
  printf '%s' "$body"
  exit 0
fi
mkdir -p "$(dirname "$conf")"
if [ -n "$body" ]; then printf '%s' "$body" >"$conf"; else rm -f "$conf"; fi
nest_cgroup_v2
mkdir -p "$SOCKET_DIR"
say "podman $(podman info --format '{{.Version.Version}} runtime={{.Host.OCIRuntime.Name}} storage={{.Store.GraphDriverName}} cgroup={{.Host.CgroupsVersion}}' 2>&1 | tr '\n' ' ')"
say "ready"
touch "$SOCKET_DIR/ready"
exec sleep infinity
