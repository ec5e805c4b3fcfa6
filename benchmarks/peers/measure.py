#!/usr/bin/env python3
"""Run one load command against a running server and measure the server's whole process tree.

usage: measure.py --root PID [--cgroup DIR] [--interval S] [--settle S] [--mark TEXT] [--label K=V ...]
                  -- LOAD_COMMAND...

--mark TEXT: the measurement starts when the load command writes a line containing TEXT on stderr (the load
generator's "loadgen: warm-up over" with --warmup-messages), not when it starts, so a warm-up in the same
client JVM is left out of every CPU figure; "marked" says whether the line was seen (if not, the figures cover
the whole run).

Prints one JSON object: the load generator's JSON (under "load") plus
  cpu_s            server CPU seconds (user+system) spent between just before the load and --settle seconds
                   after it ended: from the server's cgroup (--cgroup: v2 cpu.stat usage_usec or v1
                   cpuacct.usage) when given, else cpu_s_tree
  cpu_s_tree       the same from /proc over the process tree under --root: for every live process in the
                   tree the exact on-CPU time of its threads (/proc/PID/task/*/schedstat, ns) plus its
                   cutime+cstime (stat fields 16-17: children that exited and were reaped inside the tree)
  cpu_s_tree_ticks like cpu_s_tree but with utime+stime (stat fields 14-15) for live processes: each is
                   rounded down to whole clock ticks, so with many short-lived processes it reads low
                   (Postfix, 500 messages: 0.41 s against 0.77 s from the cgroup and from schedstat)
  cpu_method       "cgroup" or "proc-tree"
  cpu_s_per_1000   cpu_s per 1,000 accepted messages
  pss_idle_mib     summed Pss (/proc/PID/smaps_rollup) of the tree just before the load
  pss_peak_mib     highest summed Pss of the tree over samples every --interval seconds during the load
  procs_peak       most processes seen in the tree in one sample
  loadgen_cpu_s    CPU seconds of the load generator itself (rusage of the child)
"""
import json, os, resource, subprocess, sys, threading, time

TCK = os.sysconf("SC_CLK_TCK")


def read_stat(pid):
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            s = f.read().decode("ascii", "replace")
    except OSError:
        return None
    rest = s[s.rindex(")") + 2:].split()
    # rest[0] is field 3 (state): field N is rest[N - 3]
    return int(rest[1]), sum(int(x) for x in rest[11:15])


def live_ns(pid):
    """On-CPU nanoseconds of the live threads of pid (/proc/PID/task/*/schedstat), or None."""
    total = 0
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    total += int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                pass
    except OSError:
        return None
    return total


def read_stat_full(pid):
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            s = f.read().decode("ascii", "replace")
    except OSError:
        return None
    rest = s[s.rindex(")") + 2:].split()
    return [int(x) for x in rest[1:16]]  # fields 4..18


def tree_seconds(root):
    """CPU seconds of the tree: live threads' exact on-CPU time (schedstat) plus the reaped children's
    cutime+cstime of every live process in the tree. Falls back to utime+stime ticks without schedstat."""
    total = 0.0
    for pid in tree(root):
        st = read_stat_full(pid)
        if st is None:
            continue
        ns = live_ns(pid)
        own = ns / 1e9 if ns else (st[10] + st[11]) / TCK   # fields 14, 15
        total += own + (st[12] + st[13]) / TCK               # fields 16, 17
    return total


def tree(root):
    """{pid: ticks} for root and all its live descendants."""
    stats, children = {}, {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = read_stat(int(name))
            if st:
                stats[int(name)] = st
                children.setdefault(st[0], []).append(int(name))
    out, todo = {}, [root]
    while todo:
        p = todo.pop()
        if p in stats:
            out[p] = stats[p][1]
            todo.extend(children.get(p, []))
    return out


def cpu_seconds(root):
    return sum(tree(root).values()) / TCK


def pss_kib(root):
    total, n = 0, 0
    for pid in tree(root):
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        n += 1
                        break
        except OSError:
            pass
    return total, n


def cgroup_seconds(d):
    if not d:
        return None
    try:
        if os.path.exists(os.path.join(d, "cpu.stat")):
            with open(os.path.join(d, "cpu.stat")) as f:
                for line in f:
                    k, v = line.split()
                    if k == "usage_usec":
                        return int(v) / 1e6
        with open(os.path.join(d, "cpuacct.usage")) as f:
            return int(f.read()) / 1e9
    except OSError:
        return None
    return None


def main(argv):
    args = {"interval": 0.2, "settle": 1.0, "labels": {}}
    i = 0
    while i < len(argv) and argv[i] != "--":
        a = argv[i]
        if a == "--root":
            args["root"] = int(argv[i + 1]); i += 2
        elif a == "--cgroup":
            args["cgroup"] = argv[i + 1]; i += 2
        elif a == "--interval":
            args["interval"] = float(argv[i + 1]); i += 2
        elif a == "--settle":
            args["settle"] = float(argv[i + 1]); i += 2
        elif a == "--mark":
            args["mark"] = argv[i + 1]; i += 2
        elif a == "--label":
            k, v = argv[i + 1].split("=", 1); args["labels"][k] = v; i += 2
        else:
            sys.exit(f"measure.py: unknown option {a}\n{__doc__}")
    cmd = argv[i + 1:]
    if "root" not in args or not cmd:
        sys.exit(__doc__)
    root = args["root"]
    if read_stat(root) is None:
        sys.exit(f"measure.py: no process {root}")

    idle_kib, _ = pss_kib(root)
    peak = {"kib": idle_kib, "procs": len(tree(root))}
    stop = threading.Event()

    def sampler():
        while not stop.wait(args["interval"]):
            kib, n = pss_kib(root)
            peak["kib"] = max(peak["kib"], kib)
            peak["procs"] = max(peak["procs"], n)

    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cg = args.get("cgroup")
    cg0 = cgroup_seconds(cg)
    cpu0 = cpu_seconds(root)
    tr0 = tree_seconds(root)
    t = threading.Thread(target=sampler, daemon=True)
    t.start()
    mark = args.get("mark")
    marked = {"seen": False, "loadgen_s": 0.0}
    if mark is None:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
        stdout = proc.stdout
    else:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

        def watch():
            nonlocal cg0, cpu0, tr0
            for line in proc.stderr:
                sys.stderr.write(line)
                if not marked["seen"] and mark in line:
                    cg0, cpu0, tr0 = cgroup_seconds(cg), cpu_seconds(root), tree_seconds(root)
                    marked["loadgen_s"] = tree_seconds(proc.pid)
                    marked["seen"] = True

        w = threading.Thread(target=watch, daemon=True)
        w.start()
        stdout = proc.stdout.read()
        proc.wait()
        w.join()
    time.sleep(args["settle"])
    cpu1 = cpu_seconds(root)
    tr1 = tree_seconds(root)
    cg1 = cgroup_seconds(cg)
    stop.set(); t.join()
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)

    try:
        load = json.loads(stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        load = {"error": "no JSON from load generator", "stdout": stdout[-2000:], "exit": proc.returncode}
    accepted = load.get("accepted", 0) or 0
    tree_cpu = tr1 - tr0
    if cg0 is not None and cg1 is not None:
        cpu, method = cg1 - cg0, "cgroup"
    else:
        cpu, method = tree_cpu, "proc-tree"
    out = dict(args["labels"])
    out.update({
        "cpu_s": round(cpu, 3),
        "cpu_s_per_1000": round(cpu * 1000.0 / accepted, 4) if accepted else None,
        "cpu_s_tree": round(tree_cpu, 3),
        "cpu_s_tree_ticks": round(cpu1 - cpu0, 3),
        "cpu_method": method,
        "pss_idle_mib": round(idle_kib / 1024.0, 1),
        "pss_peak_mib": round(peak["kib"] / 1024.0, 1),
        "procs_peak": peak["procs"],
        "loadgen_cpu_s": round((ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime) - marked["loadgen_s"], 3),
        "marked": marked["seen"] if mark is not None else None,
        "loadgen_exit": proc.returncode,
        "load": load,
    })
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
