#!/usr/bin/env bash
# Times `repro-matrix analyze` beside `sha256sum` on the same image tarball
# (at least 256 MiB of random layers), alternating the two so that load from
# elsewhere on the machine hits both alike. Prints MiB/s for each run, the
# median of each, their ratio, and the peak RSS of analyze.
#
# Usage: bench/analyze.sh            (SIZE_MIB=256 REPS=5 by default)
#        SIZE_MIB=1024 REPS=3 KEEP=1 bench/analyze.sh
set -euo pipefail

SIZE_MIB=${SIZE_MIB:-256}
REPS=${REPS:-5}
cd "$(dirname "$0")/.."
work=$(mktemp -d)
[[ -n ${KEEP:-} ]] || trap 'rm -rf "$work"' EXIT

[[ -x /usr/bin/time ]] || { echo "need /usr/bin/time (apt-get install time)" >&2; exit 2; }

go build -o "$work/repro-matrix" ./cmd/repro-matrix
go run ./bench/mkimage -o "$work/image.tar" -size "$SIZE_MIB" -layers 4
tarball=$work/image.tar
bytes=$(stat -c %s "$tarball")
mib=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }')
echo "tarball: $tarball ($mib MiB), $REPS repetitions, $(nproc) cores"
cat "$tarball" >/dev/null # both tools then read from the page cache

# timed CMD...: runs CMD, prints "SECONDS MAXRSS_KIB".
timed() {
	local start end rss
	start=$EPOCHREALTIME
	rss=$(/usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -n1)
	end=$EPOCHREALTIME
	awk -v s="$start" -v e="$end" -v r="$rss" 'BEGIN { printf "%.4f %s\n", e - s, r }'
}

sha=() ana=() rss=0
for ((i = 1; i <= REPS; i++)); do
	if ((i % 2)); then order="sha ana"; else order="ana sha"; fi
	for tool in $order; do
		if [[ $tool == sha ]]; then
			read -r s _ < <(timed sha256sum "$tarball")
			sha+=("$s")
		else
			read -r s r < <(timed "$work/repro-matrix" analyze "$tarball")
			ana+=("$s")
			((r > rss)) && rss=$r
		fi
	done
	printf 'run %d: sha256sum %6.1f MiB/s   repro-matrix analyze %6.1f MiB/s\n' "$i" \
		"$(awk -v m="$mib" -v s="${sha[-1]}" 'BEGIN { print m / s }')" \
		"$(awk -v m="$mib" -v s="${ana[-1]}" 'BEGIN { print m / s }')"
done

median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
ms=$(median "${sha[@]}")
ma=$(median "${ana[@]}")
awk -v m="$mib" -v s="$ms" -v a="$ma" -v r="$rss" 'BEGIN {
	printf "median: sha256sum %.1f MiB/s, repro-matrix analyze %.1f MiB/s, analyze/sha256sum throughput ratio %.2f\n", m / s, m / a, s / a
	printf "peak RSS of repro-matrix analyze: %.1f MiB\n", r / 1024
}'
