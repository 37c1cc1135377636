#!/usr/bin/env bash
# heartbeat.sh CMD...: runs CMD and, while it runs, prints a line every 20 s
# saying how long it has been going, so that a long quiet command (go test
# holds a package's output until the package ends) is not taken for a hang.
# Exits with CMD's status.
set -u
(
  while sleep 20; do
    printf '… still running after %ds: %s\n' "$SECONDS" "$*"
  done
) &
beat=$!
"$@"
rc=$?
kill "$beat" 2>/dev/null
exit "$rc"
