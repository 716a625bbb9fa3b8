#!/usr/bin/env python3
"""Shares of a profile by part of the testbed, from folded stacks (inferno-collapse-perf).

Each sample goes to the innermost frame that belongs to one of our parts, so time in the
allocator or in memcpy counts for the code that asked for it. Usage:
    cost-table.py folded.txt
"""
import sys
from collections import Counter

# (part, symbol prefixes), innermost match wins; order matters only for overlapping prefixes.
PARTS = [
    ("trace (recording events)", ("sim::trace::",)),
    ("trace validation", ("check::protocol::",)),
    ("other checkers", ("check::",)),
    ("WAL", ("wal::",)),
    ("simulated disk", ("disk::",)),
    ("Raft core", ("raft::",)),
    ("store (KV state machine)", ("kv::",)),
    ("member glue (Ready loop, requests)", ("node::",)),
    ("clients and workload", ("sim::client", "sim::ping")),
    ("network model (world, router, mailboxes)", ("sim::world", "sim::router", "sim::mailbox",
                                                  "sim::endpoint", "sim::net", "sim::alarm")),
    ("actors and cluster control", ("sim::actor", "sim::cluster", "sim::")),
    ("madsim runtime (executor, timers, rng)", ("madsim::", "async_task::", "naive_timer::")),
    ("report and story", ("sim_runner::",)),
]


def part_of(frame):
    name = frame.split("<", 1)[-1] if frame.startswith("<") else frame
    for part, prefixes in PARTS:
        if any(name.startswith(p) or frame.startswith(p) for p in prefixes):
            return part
    return None


def main(path):
    shares = Counter()
    total = 0
    for line in open(path):
        stack, _, count = line.rstrip().rpartition(" ")
        count = int(count)
        total += count
        part = "other (libc, kernel, std)"
        for frame in reversed(stack.split(";")):
            found = part_of(frame)
            if found:
                part = found
                break
        shares[part] += count
    print("| part | share of samples |\n|---|---|")
    for part, count in shares.most_common():
        print(f"| {part} | {100 * count / total:.1f}% |")


if __name__ == "__main__":
    main(sys.argv[1])
