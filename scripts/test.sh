#!/usr/bin/env bash
# The project's test command: sets everything up, runs the tap suite against the real models,
# real images and a real loopback RTSP server, and ends with one line `tests: N passed, M failed`
# (N and M count the named tests, i.e. the subtests of each test file; a test file that crashes
# outside its subtests counts as one failure).
#
# Three tiers (docs/testing.md): test/unit (pure code, temp SQLite, property tests) runs in four
# shared processes, two at a time (test/helpers/unit-shard.ts); test/integration (one real
# dependency each: GStreamer, ONNX Runtime, Mosquitto, nats-server + PostgreSQL, a loopback HTTP server) and test/system (the service, the CLI, the demo,
# the browser, several processes) run one file at a time, as they share the two cores with the
# servers they start, except the files marked `// test-lane: brokers` (two at a time, first).
# Arguments (files or folders) run just those, one at a time.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || { echo "tests: 0 passed, 1 failed"; exit 1; }

# A frame's memory is blackened when its last hold is released (src/lib/frame-lease.ts): a stage
# that reads pixels it no longer holds then sees black instead of a plausible older frame, and the
# detection and recognition tests fail.
export FACEGATE_POISON_RELEASED_FRAMES=1

log=$(mktemp)
status=0
if [ "$#" -gt 0 ]; then
  npx --no-install tap --reporter=tap "$@" 2>&1 | tee "$log"
  status=${PIPESTATUS[0]}
else
  npx --no-install tap --reporter=tap --jobs=2 test/shards/unit-*.ts 2>&1 | tee "$log"
  status=${PIPESTATUS[0]}
  # Files marked `// test-lane: brokers` on their first line spend their time waiting on the
  # brokers and databases they start (little CPU): two of them at a time. The rest one at a time.
  mapfile -t brokers < <(grep -l -m1 '^// test-lane: brokers' test/integration/*.test.ts test/system/*.test.ts)
  mapfile -t serial < <(grep -L -m1 '^// test-lane: brokers' test/integration/*.test.ts test/system/*.test.ts)
  if [ "${#brokers[@]}" -gt 0 ]; then
    npx --no-install tap --reporter=tap --jobs=2 "${brokers[@]}" 2>&1 | tee -a "$log"
    s=${PIPESTATUS[0]}
    [ "$s" -ne 0 ] && status=$s
  fi
  npx --no-install tap --reporter=tap --jobs=1 "${serial[@]}" 2>&1 | tee -a "$log"
  s=${PIPESTATUS[0]}
  [ "$s" -ne 0 ] && status=$s
fi

read -r passed failed < <(awk '
  /^# Subtest: / && !/^ / { file_failed_sub = 0 }
  /^    ok / { pass++ }
  /^    not ok / { fail++; file_failed_sub++ }
  /^not ok / { if (file_failed_sub == 0) fail++ }
  END { printf "%d %d\n", pass, fail }' "$log")
rm -f "$log"
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "tests: ${passed} passed, ${failed} failed"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
