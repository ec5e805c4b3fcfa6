#!/usr/bin/env python3
"""Markdown tables from compare.sh's results.jsonl: medians over rounds per case and server.

usage: report.py RESULTS.jsonl [FSYNC.json ...]
"""
import json, statistics, sys

NAMES = {"mailgate": "mailgate", "postfix": "Postfix", "haraka": "Haraka"}
CASES = {"a": "a: 1 KiB, 1 msg/conn, 50 connections", "b": "b: 1 KiB, 100 msgs/conn, 20 connections",
         "c": "c: 100 KiB, 1 msg/conn, 20 connections"}
METRICS = [  # label, getter, format, "higher is better"
    ("msgs/s", lambda d: d["load"].get("msgs_per_sec"), "{:.0f}", True),
    ("server CPU s / 1000 msgs", lambda d: d.get("cpu_s_per_1000"), "{:.3f}", False),
    ("peak PSS MiB (process tree)", lambda d: d.get("pss_peak_mib"), "{:.1f}", False),
    ("data p50 ms (end of data -> 250)", lambda d: d["load"].get("latency_ms", {}).get("data", {}).get("p50"), "{:.2f}", False),
    ("data p99 ms", lambda d: d["load"].get("latency_ms", {}).get("data", {}).get("p99"), "{:.2f}", False),
    ("processes (peak)", lambda d: d.get("procs_peak"), "{:.0f}", False),
    ("load generator CPU s / 1000 msgs", lambda d: (d["loadgen_cpu_s"] * 1000.0 / d["load"]["accepted"])
        if d["load"].get("accepted") else None, "{:.3f}", False),
]


def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def fmt(f, v):
    return "-" if v is None else f.format(v)


def main():
    runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
    for path in sys.argv[2:]:
        try:
            d = json.load(open(path))
            print(f"- disk fsync rate ({path.rsplit('/', 1)[-1].replace('.json', '')}): "
                  f"{d['files_per_s_last_half']:.0f} files/s (create + 1 KiB write + fsync + close, last half of "
                  f"{d['seconds']:.0f} s)")
        except (OSError, ValueError, KeyError):
            pass
    print()
    for c in sorted({r["case"] for r in runs}):
        rs = [r for r in runs if r["case"] == c]
        servers = [s for s in NAMES if any(r["server"] == s for r in rs)]
        n = {s: sum(1 for r in rs if r["server"] == s) for s in servers}
        r0 = rs[0]
        print(f"### case {CASES.get(c, c)} ({r0['messages']} messages per run, medians of "
              + ", ".join(f"{NAMES[s]} {n[s]}" for s in servers) + " runs)")
        print()
        ratios = [p for p in ("postfix", "haraka") if p in servers and "mailgate" in servers]
        head = ["metric"] + [NAMES[s] for s in servers] + [f"mailgate/{NAMES[p]}" for p in ratios]
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for label, get, f, _ in METRICS:
            m = {s: med([get(r) for r in rs if r["server"] == s]) for s in servers}
            row = [label] + [fmt(f, m[s]) for s in servers]
            for p in ratios:
                row.append(fmt("{:.2f}", m["mailgate"] / m[p]) if m["mailgate"] is not None and m[p] else "-")
            print("| " + " | ".join(row) + " |")
        bad = [r for r in rs if r["load"].get("accepted") != int(r["messages"]) or r["load"].get("errors")]
        for r in bad:
            print(f"\n**warning**: {NAMES[r['server']]} round {r['round']}: accepted {r['load'].get('accepted')} of "
                  f"{r['messages']}, errors {r['load'].get('errors')}, rejected {r['load'].get('rejected')}")
        print()
        print("per run msgs/s: " + "; ".join(
            f"{NAMES[s]} " + ", ".join(fmt("{:.0f}", r["load"].get("msgs_per_sec")) for r in rs if r["server"] == s)
            for s in servers))
        print()


if __name__ == "__main__":
    main()
