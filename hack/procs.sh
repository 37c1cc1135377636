#!/usr/bin/env bash
# Prints how many Ginkgo processes `make matrix` runs by default: one per
# core, at most one per 2 GiB of memory (each process drives one BuildKit
# daemon and its build), at least one.
set -euo pipefail
cores=$(nproc)
mem_kib=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)
by_mem=$((mem_kib / (2 * 1024 * 1024)))
procs=$((cores < by_mem ? cores : by_mem))
echo $((procs > 0 ? procs : 1))
