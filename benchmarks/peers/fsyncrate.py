#!/usr/bin/env python3
"""The disk's own steady fsync rate: create a file, write 1 KiB, fsync, close, in a loop.

usage: fsyncrate.py DIR [SECONDS=10]   (files go to DIR/fsyncrate.tmp/, removed afterwards,
       or moved into $RETIRE_DIR when that is set)
Prints one JSON object: files/s over the last half of the run, and over all of it.
"""
import json, os, shutil, sys, time

d = os.path.join(sys.argv[1], "fsyncrate.tmp")
secs = float(sys.argv[2]) if len(sys.argv) > 2 else 10.0
shutil.rmtree(d, ignore_errors=True)
os.makedirs(d)
data = b"x" * 1023 + b"\n"
t0 = time.monotonic(); half = t0 + secs / 2; end = t0 + secs
n = n_half = 0; t_half = None
while True:
    now = time.monotonic()
    if now >= end:
        break
    if t_half is None and now >= half:
        t_half, n_half = now, n
    fd = os.open(os.path.join(d, f"{n:08d}"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, data)
    os.fsync(fd)
    os.close(fd)
    n += 1
t1 = time.monotonic()
retire = os.environ.get("RETIRE_DIR")  # see retire() in lib.sh: deleting now would slow the next file creations
if retire:
    os.makedirs(retire, exist_ok=True)
    os.rename(d, os.path.join(retire, "fsyncrate.%d" % time.time_ns()))
else:
    shutil.rmtree(d, ignore_errors=True)
print(json.dumps({"files_per_s_last_half": round((n - n_half) / (t1 - t_half), 1) if t_half else None,
                  "files_per_s_all": round(n / (t1 - t0), 1), "files": n, "seconds": round(t1 - t0, 2)}))
