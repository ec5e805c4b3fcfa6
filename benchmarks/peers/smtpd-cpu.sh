#!/usr/bin/env bash
# smtpd alone: user and system CPU per 1,000 messages after a warm-up, from /proc/PID/stat (no cgroup needed).
#   benchmarks/peers/smtpd-cpu.sh [MEASURED_MSGS] [smtpd args ...]
# Environment: LOADARGS (default "--connections 20 --per-connection 100", case b), WARMUP_MSGS (20000),
#   PORT (14525), WORK (a fresh directory under benchmarks/peers/work; old spools are NOT deleted here, see
#   retire() in lib.sh for why), PERF=1 also records `perf record -g` of smtpd for 4 s into WORK/perf.data.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
N="${1:-40000}"; [ $# -gt 0 ] && shift
PORT="${PORT:-14525}"; WARMUP_MSGS="${WARMUP_MSGS:-20000}"
LOADARGS="${LOADARGS:---connections 20 --per-connection 100}"
WORK="${WORK:-$HERE/work/smtpd-cpu.$(date +%s)}"
mkdir -p "$WORK"; mkdir -m 700 "$WORK/spool"
"$REPO/bin/mailgate" smtpd --listen "127.0.0.1:$PORT" --spool "$WORK/spool" "$@" > "$WORK/smtpd.log" 2>&1 &
launcher=$!
trap 'kill "$launcher" 2>/dev/null || true' EXIT
for _ in $(seq 150); do (echo > "/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.2; done
pid=$launcher  # bin/mailgate execs the JVM
# shellcheck disable=SC2086
"$REPO/bin/mailgate" load --target "127.0.0.1:$PORT" $LOADARGS --messages "$WARMUP_MSGS" --quiet --json > "$WORK/warm.json"
read -r u0 s0 < <(awk '{print $14, $15}' "/proc/$pid/stat")
# shellcheck disable=SC2086
"$REPO/bin/mailgate" load --target "127.0.0.1:$PORT" $LOADARGS --messages "$N" --quiet --json > "$WORK/measured.json" &
load=$!
if [ "${PERF:-0}" = 1 ]; then sleep 1; perf record -q -g -p "$pid" -o "$WORK/perf.data" -- sleep 4 2>/dev/null || true; fi
wait "$load"
read -r u1 s1 < <(awk '{print $14, $15}' "/proc/$pid/stat")
hz=$(getconf CLK_TCK)
python3 - "$N" "$hz" "$u0" "$s0" "$u1" "$s1" "$WORK/measured.json" <<'PY'
import json, sys
n, hz = int(sys.argv[1]), int(sys.argv[2]); u0, s0, u1, s1 = map(int, sys.argv[3:7])
j = json.load(open(sys.argv[7]))
u, s = (u1 - u0) / hz, (s1 - s0) / hz
print("msgs/s %.0f  accepted %d  CPU-s per 1,000 msgs: user %.3f  system %.3f  total %.3f" % (
    j["msgs_per_sec"], j["accepted"], u / n * 1000, s / n * 1000, (u + s) / n * 1000))
PY
echo "smtpd-cpu.sh: work dir $WORK (delete it yourself, later)" >&2
