#!/usr/bin/env bash
# smtpd alone vs smtpd + content filter (separate process over Aeron IPC), same machine, alternating.
set -u
MG=/work/main/bin/mailgate; W=/tmp/fb; rm -rf $W; mkdir -p $W
run_load() { $MG load --target 127.0.0.1:$1 --connections 20 --messages $2 --per-connection 100 --size $3 --json --quiet 2>/dev/null; }
for round in 1 2; do
 for size in 1024 102400; do
  n=$([ $size = 1024 ] && echo 10000 || echo 2000)
  # alone
  rm -rf $W/a; mkdir -p $W/a
  $MG smtpd --listen 127.0.0.1:2801 --spool $W/a/spool --set maillog.file=$W/a/maillog > $W/a/out 2>&1 & P=$!
  until grep -q "listening on" $W/a/out; do sleep 0.1; done
  run_load 2801 1000 $size > /dev/null
  echo "alone size=$size round=$round $(run_load 2801 $n $size)"
  kill $P; wait $P 2>/dev/null
  # with filter
  rm -rf $W/f; mkdir -p $W/f; chmod 700 $W/f
  AD=/dev/shm/mg-fb/aeron
  $MG driver --aeron-dir $AD > $W/f/driver.out 2>&1 & D=$!
  until grep -q "running" $W/f/driver.out; do sleep 0.1; done
  $MG filter --spool $W/f/spool --set ipc.aeron-dir=$AD --set ipc.secret-file=$W/f/secret > $W/f/filter.out 2>&1 & F=$!
  until grep -q "ready" $W/f/filter.out; do sleep 0.1; done
  $MG smtpd --listen 127.0.0.1:2802 --spool $W/f/spool --set maillog.file=$W/f/maillog --set filter.mode=aeron --set ipc.aeron-dir=$AD --set ipc.secret-file=$W/f/secret > $W/f/out 2>&1 & P=$!
  until grep -q "listening on" $W/f/out; do sleep 0.1; done
  run_load 2802 1000 $size > /dev/null
  echo "filter size=$size round=$round $(run_load 2802 $n $size)"
  kill $P $F; wait $P $F 2>/dev/null; kill $D; wait $D 2>/dev/null
 done
done
rm -rf /dev/shm/mg-fb
