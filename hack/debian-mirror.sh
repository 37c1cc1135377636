#!/usr/bin/env bash
# Prints the Debian archive the host's apt sources use (a local mirror if
# there is one), or $REPRO_MATRIX_DEBIAN_MIRROR; fails with a message when
# there is none. Shared by setup-host.sh and fresh.sh; internal/provision
# reads the same sources in Go (mirror.go).
set -euo pipefail
if [ -n "${REPRO_MATRIX_DEBIAN_MIRROR:-}" ]; then echo "$REPRO_MATRIX_DEBIAN_MIRROR"; exit 0; fi
uri=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/ {for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) {print $i; exit}}')
[ -n "$uri" ] || uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '$1 == "deb" {for (i = 2; i <= NF; i++) if ($i ~ /:\/\/.*\/debian\/?$/) {print $i; exit}}')
if [ -z "$uri" ]; then
  echo "no Debian archive in the apt sources: set REPRO_MATRIX_DEBIAN_MIRROR" >&2
  exit 1
fi
echo "${uri%/}"
