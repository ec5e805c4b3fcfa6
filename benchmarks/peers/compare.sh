#!/usr/bin/env bash
# Side-by-side: mailgate, Postfix and Haraka under the identical load, each in its durable mode
# (see README.md). For each case, ROUNDS rounds of the servers in alternation (A B C A B C ...); every run
# starts its server fresh on an empty spool, sends WARMUP_MSGS unmeasured messages of the same shape, then
# the measured load (both from one client JVM; server and client CPU are counted from the end of the warm-up),
# then stops it. Prints the disk's own fsync rate and one Markdown table per case.
#
#   benchmarks/peers/compare.sh                    # full run (run install.sh first)
#   QUICK=1 ROUNDS=1 benchmarks/peers/compare.sh   # smoke test: 500/1000/200 messages
#
# Environment (defaults):
#   ROUNDS=2  CASES="a b c"  SERVERS="mailgate postfix haraka"  WORK=benchmarks/peers/work
#   MSGS_A=5000 MSGS_B=20000 MSGS_C=2000 (QUICK=1: 500 1000 200)  WARMUP_MSGS=20000 (QUICK=1: 200)
#   PORT_MAILGATE=12525 PORT_POSTFIX=12526 PORT_HARAKA=12527   FSYNC_SECONDS=10
#   KEEP_SPOOLS=0 (1: leave each server's last queue/spool on disk)
#   PEER_LOGS=file|min (see the server scripts)  MAILGATE_ARGS, HARAKA_NODES (see the server scripts)
# Cases: a = 1 KiB, 1 msg/conn, 50 connections; b = 1 KiB, 100 msgs/conn, 20 connections;
#        c = 100 KiB, 1 msg/conn, 20 connections.
# Raw results: $WORK/results.jsonl (one JSON object per run; measure.py documents the fields).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WORK="${WORK:-$HERE/work}"
. "$HERE/lib.sh"
ROUNDS="${ROUNDS:-2}"
CASES="${CASES:-a b c}"
SERVERS="${SERVERS:-mailgate postfix haraka}"
if [ "${QUICK:-0}" = 1 ]; then
  MSGS_A="${MSGS_A:-500}"; MSGS_B="${MSGS_B:-1000}"; MSGS_C="${MSGS_C:-200}"; WARMUP_MSGS="${WARMUP_MSGS:-200}"
  FSYNC_SECONDS="${FSYNC_SECONDS:-4}"
fi
MSGS_A="${MSGS_A:-5000}"; MSGS_B="${MSGS_B:-20000}"; MSGS_C="${MSGS_C:-2000}"
WARMUP_MSGS="${WARMUP_MSGS:-20000}"; FSYNC_SECONDS="${FSYNC_SECONDS:-10}"
declare -A PORT=([mailgate]="${PORT_MAILGATE:-12525}" [postfix]="${PORT_POSTFIX:-12526}" [haraka]="${PORT_HARAKA:-12527}")

mkdir -p "$WORK"; WORK=$(cd "$WORK" && pwd)
RESULTS="$WORK/results.jsonl"; : > "$RESULTS"
for s in $SERVERS; do
  [ -n "${PORT[$s]:-}" ] || { echo "compare.sh: unknown server $s" >&2; exit 64; }
  if (exec 3<>"/dev/tcp/127.0.0.1/${PORT[$s]}") 2>/dev/null; then
    echo "compare.sh: port ${PORT[$s]} ($s) is already in use" >&2; exit 1
  fi
done

export MAILGATE_LIB
MAILGATE_LIB=$(snapshot_mailgate "$WORK/lib")

case_args() { # case -> "connections per_connection size messages"
  case "$1" in
    a) echo "50 1 1024 $MSGS_A" ;;
    b) echo "20 100 1024 $MSGS_B" ;;
    c) echo "20 1 102400 $MSGS_C" ;;
    *) echo "compare.sh: unknown case $1" >&2; exit 64 ;;
  esac
}

current=""
cleanup() {
  [ -n "$current" ] && "$HERE/$current.sh" stop "${PORT[$current]}" "$WORK/$current" >/dev/null 2>&1
  rm -rf "${RETIRE_DIR:-/nonexistent}"
  true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

{
  echo "# mailgate vs Postfix vs Haraka ($(date -u +%Y-%m-%dT%H:%M:%SZ))"
  echo
  echo "- host: $(nproc) CPUs, $(uname -r), work dir $WORK on $(df -T "$WORK" | awk 'NR==2 {print $2}')"
  echo "- java: $(java -version 2>&1 | head -1)"
  echo "- postfix: $(postconf -d -h mail_version 2>/dev/null || echo 'not installed')"
  echo "- haraka: $(haraka --version 2>/dev/null | sed 's/\x1b\[[0-9;]*m//g; s/.*Version: //' || echo 'not installed'), node $(node --version 2>/dev/null || echo -)"
  echo "- rounds $ROUNDS, warm-up $WARMUP_MSGS messages per run, logs: ${PEER_LOGS:-file}"
} | tee "$WORK/header.md"

# spent spools are parked here and deleted at the end (why: retire() in lib.sh)
export RETIRE_DIR="$WORK/retired.$$"
echo "compare.sh: measuring the disk's fsync rate (${FSYNC_SECONDS}s) ..." >&2
python3 "$HERE/fsyncrate.py" "$WORK" "$FSYNC_SECONDS" > "$WORK/fsync-before.json"

for c in $CASES; do
  read -r conns per size msgs < <(case_args "$c")
  for r in $(seq 1 "$ROUNDS"); do
    for s in $SERVERS; do
      port=${PORT[$s]}; sw="$WORK/$s"
      sync; sleep 1
      current=$s
      "$HERE/$s.sh" start "$port" "$sw" 2>>"$WORK/servers.log"
      load=(bash -c '. "$1"; shift; mg load "$@"' _ "$HERE/lib.sh" --target "127.0.0.1:$port"
            --connections "$conns" --per-connection "$per" --size "$size" --json --quiet)
      # the warm-up runs in the measured client JVM (--warmup-messages): a fresh JVM's start-up and JIT would
      # otherwise share the two cores with the server during the first seconds of the measurement
      warm=(); total=$msgs
      if [ "$WARMUP_MSGS" -gt 0 ]; then
        warm=(--mark "loadgen: warm-up over"); load+=(--warmup-messages "$WARMUP_MSGS"); total=$((WARMUP_MSGS + msgs))
      fi
      echo "compare.sh: case $c round $r $s: $msgs messages ($conns connections, $per per connection, $size bytes)" >&2
      python3 "$HERE/measure.py" --root "$(cat "$sw/server.pid")" --cgroup "$(cat "$sw/server.cgroup")" \
        --label case="$c" --label round="$r" --label server="$s" --label messages="$msgs" \
        --label connections="$conns" --label per_connection="$per" --label size="$size" "${warm[@]}" \
        -- "${load[@]}" --messages "$total" >> "$RESULTS" 2>>"$WORK/load.log"
      tail -1 "$RESULTS" | python3 -c 'import json, sys
d = json.load(sys.stdin); l = d["load"]
print("  accepted %s errors %s msgs/s %s cpu %ss pss %s MiB" % (l.get("accepted"), l.get("errors"),
      l.get("msgs_per_sec"), d["cpu_s"], d["pss_peak_mib"]), file=sys.stderr)'
      "$HERE/$s.sh" stop "$port" "$sw" 2>>"$WORK/servers.log"
      current=""
      [ "${KEEP_SPOOLS:-0}" = 1 ] || retire "$sw/queue" "$sw/spool"
    done
  done
done

python3 "$HERE/fsyncrate.py" "$WORK" "$FSYNC_SECONDS" > "$WORK/fsync-after.json"
python3 "$HERE/report.py" "$RESULTS" "$WORK/fsync-before.json" "$WORK/fsync-after.json" | tee "$WORK/report.md"
cat "$WORK/header.md" "$WORK/report.md" > "$WORK/compare.md"
echo "compare.sh: report in $WORK/compare.md, raw runs in $RESULTS" >&2
