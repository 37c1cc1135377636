#!/usr/bin/env bash
# bench/diff.sh — how fast and how lean is `repro-matrix diff`?
#
# Makes two OCI image tarballs of about SIZE_MIB MiB each (one layer of
# FILES files of random data) that differ in one file, then reports the wall
# time and peak RSS of:
#   1. repro-matrix diff A B                     (streams, nothing on disk)
#   2. baseline: tar -xf both images and their layers, then diff -r
#   3. diffoci load + diff --semantic            (only if DIFFOCI names a
#      diffoci binary, or one is on PATH; it is never downloaded or built here)
#
# Usage: bench/diff.sh            (from the repository root)
# Environment:
#   SIZE_MIB=1024   approximate size of each image
#   FILES=64        files in the layer
#   COMPRESS=none   layer compression: none or gzip (gzip -1)
#   WORK=<dir>      scratch directory (default: a new one under /tmp, removed
#                   at the end unless KEEP=1)
#   REPRO_MATRIX=<binary>  use this binary instead of building ./cmd/repro-matrix
#   DIFFOCI=<binary>       diffoci binary to compare with
set -euo pipefail

SIZE_MIB=${SIZE_MIB:-1024}
FILES=${FILES:-64}
COMPRESS=${COMPRESS:-none}
KEEP=${KEEP:-0}
ROOT=$(cd "$(dirname "$0")/.." && pwd)

for tool in tar sha256sum /usr/bin/time head stat du; do
	command -v "$tool" >/dev/null || { echo "bench/diff.sh: $tool is required" >&2; exit 2; }
done
case $COMPRESS in none | gzip) ;; *) echo "COMPRESS must be none or gzip" >&2; exit 2 ;; esac
if ((FILES < 2 || SIZE_MIB < FILES)); then
	echo "need FILES >= 2 and SIZE_MIB >= FILES" >&2
	exit 2
fi

if [[ -z ${WORK:-} ]]; then
	WORK=$(mktemp -d /tmp/repro-matrix-bench-diff.XXXXXX)
	[[ $KEEP == 1 ]] || trap 'rm -rf "$WORK"' EXIT
fi
mkdir -p "$WORK"

BIN=${REPRO_MATRIX:-}
if [[ -z $BIN ]]; then
	BIN=$WORK/repro-matrix
	echo "building repro-matrix…" >&2
	(cd "$ROOT" && go build -o "$BIN" ./cmd/repro-matrix)
fi

per_file_kib=$((SIZE_MIB * 1024 / FILES))
epoch=1704067200 # 2024-01-01T00:00:00Z

# The shared content: FILES files of random bytes, made once.
src=$WORK/src
if [[ ! -f $src/done ]]; then
	echo "generating $FILES files of $per_file_kib KiB…" >&2
	rm -rf "$src"
	mkdir -p "$src/data"
	for ((i = 0; i < FILES; i++)); do
		head -c "$((per_file_kib * 1024))" /dev/urandom >"$src/data/$(printf '%05d' "$i").bin"
	done
	printf 'hello\n' >"$src/data/small.txt"
	touch "$src/done"
fi

sha() { sha256sum "$1" | cut -d' ' -f1; }
size() { stat -c %s "$1"; }

# make_image NAME CHANGE: an OCI layout tarball at $WORK/NAME.tar whose
# layer holds the shared files, with data/small.txt set to CHANGE.
make_image() {
	local name=$1 change=$2
	local dir=$WORK/$name
	rm -rf "$dir" "$WORK/$name.tar"
	mkdir -p "$dir/rootfs" "$dir/layout/blobs/sha256"
	cp -al "$src/data" "$dir/rootfs/data"
	rm "$dir/rootfs/data/small.txt"
	printf '%s\n' "$change" >"$dir/rootfs/data/small.txt"
	tar --sort=name --mtime="@$epoch" --owner=0 --group=0 --numeric-owner --format=posix \
		--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
		-C "$dir/rootfs" -cf "$dir/layer.tar" .
	local diffid layer mt
	diffid=$(sha "$dir/layer.tar")
	if [[ $COMPRESS == gzip ]]; then
		gzip -1 -n -c "$dir/layer.tar" >"$dir/layer.blob"
		mt=application/vnd.oci.image.layer.v1.tar+gzip
	else
		mv "$dir/layer.tar" "$dir/layer.blob"
		mt=application/vnd.oci.image.layer.v1.tar
	fi
	layer=$(sha "$dir/layer.blob")
	local lsize
	lsize=$(size "$dir/layer.blob")
	mv "$dir/layer.blob" "$dir/layout/blobs/sha256/$layer"

	printf '{"architecture":"amd64","os":"linux","created":"2024-01-01T00:00:00Z","config":{"Cmd":["/bin/sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created":"2024-01-01T00:00:00Z","created_by":"bench"}]}' \
		"$diffid" >"$dir/config.json"
	local cfg csize
	cfg=$(sha "$dir/config.json")
	csize=$(size "$dir/config.json")
	mv "$dir/config.json" "$dir/layout/blobs/sha256/$cfg"

	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},"layers":[{"mediaType":"%s","digest":"sha256:%s","size":%d}]}' \
		"$cfg" "$csize" "$mt" "$layer" "$lsize" >"$dir/manifest.json"
	local man msize
	man=$(sha "$dir/manifest.json")
	msize=$(size "$dir/manifest.json")
	mv "$dir/manifest.json" "$dir/layout/blobs/sha256/$man"

	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d,"annotations":{"io.containerd.image.name":"docker.io/library/bench-%s:latest","org.opencontainers.image.ref.name":"latest"}}]}' \
		"$man" "$msize" "$name" >"$dir/layout/index.json"
	printf '{"imageLayoutVersion":"1.0.0"}' >"$dir/layout/oci-layout"
	tar --sort=name -C "$dir/layout" -cf "$WORK/$name.tar" oci-layout index.json blobs
	rm -rf "$dir"
	echo "$WORK/$name.tar: $(du -m "$WORK/$name.tar" | cut -f1) MiB, layer sha256:${layer:0:12}" >&2
}

make_image a "one"
make_image b "two"
A=$WORK/a.tar
B=$WORK/b.tar

# measure LABEL CMD…: runs CMD under /usr/bin/time, prints one result line.
# Exit status 1 counts as success (it means "differs" for the diff tools).
results=()
measure() {
	local label=$1
	shift
	sync
	local tf=$WORK/time.txt rc=0 secs kib
	/usr/bin/time -f '%e %M' -o "$tf" "$@" >"$WORK/out.txt" 2>&1 || rc=$?
	if ((rc > 1)); then
		echo "$label failed (exit $rc):" >&2
		tail -20 "$WORK/out.txt" >&2
		results+=("$(printf '%-34s %10s %13s  %s' "$label" "-" "-" "failed (exit $rc)")")
		return
	fi
	# time(1) prints "Command exited with non-zero status 1" first then.
	read -r secs kib < <(tail -1 "$tf")
	results+=("$(printf '%-34s %9ss %9s MiB  %s' "$label" "$secs" "$((kib / 1024))" "${NOTE:-}")")
	rm -f "$tf"
}

echo "running repro-matrix diff…" >&2
NOTE="exit 1 expected (differs)" measure "repro-matrix diff" "$BIN" diff "$A" "$B"
grep -E 'data/small.txt|^differs' "$WORK/out.txt" >&2 || true
NOTE="" measure "repro-matrix diff --semantic --json" "$BIN" diff --semantic --json "$A" "$B"

echo "running the baseline (extract + diff -r)…" >&2
baseline() {
	local x
	for x in a b; do
		mkdir -p "$WORK/x/$x/layout" "$WORK/x/$x/rootfs"
		tar -xf "$WORK/$x.tar" -C "$WORK/x/$x/layout"
		local man layer
		man=$(sed -E 's/.*"digest":"sha256:([0-9a-f]{64})".*/\1/' "$WORK/x/$x/layout/index.json")
		layer=$(sed -E 's/.*"layers":\[\{[^}]*"digest":"sha256:([0-9a-f]{64})".*/\1/' "$WORK/x/$x/layout/blobs/sha256/$man")
		tar -xf "$WORK/x/$x/layout/blobs/sha256/$layer" -C "$WORK/x/$x/rootfs"
	done
	du -sm "$WORK/x" | cut -f1 >"$WORK/x.du"
	diff -r "$WORK/x/a/rootfs" "$WORK/x/b/rootfs"
}
export -f baseline
export WORK
NOTE="" measure "baseline: tar -xf + diff -r" bash -c baseline
base_disk=$(cat "$WORK/x.du" 2>/dev/null || echo "?")
results[-1]+="disk: $base_disk MiB extracted"
rm -rf "$WORK/x"

DIFFOCI=${DIFFOCI:-$(command -v diffoci || true)}
if [[ -n $DIFFOCI && -x $DIFFOCI ]]; then
	echo "running diffoci ($DIFFOCI)…" >&2
	export DIFFOCI_LOCAL_CACHE=$WORK/diffoci-cache
	diffoci_run() {
		"$DIFFOCI" --backend=local load --input "$WORK/a.tar" >/dev/null &&
			"$DIFFOCI" --backend=local load --input "$WORK/b.tar" >/dev/null &&
			"$DIFFOCI" --backend=local diff --pull=never --semantic \
				docker.io/library/bench-a:latest docker.io/library/bench-b:latest
	}
	export -f diffoci_run
	export DIFFOCI
	NOTE="load both + diff --semantic" measure "diffoci (local backend)" bash -c diffoci_run
	rm -rf "$WORK/diffoci-cache"
else
	results+=("$(printf '%-34s %10s %12s  %s' "diffoci" "-" "-" "skipped: no diffoci binary (set DIFFOCI=…)")")
fi

echo
echo "two images of $(du -m "$A" | cut -f1) MiB and $(du -m "$B" | cut -f1) MiB ($FILES files + 1 that differs, layer compression: $COMPRESS), $(nproc) cores"
printf '%-34s %10s %13s\n' "command" "wall" "peak RSS"
printf '%s\n' "${results[@]}"
