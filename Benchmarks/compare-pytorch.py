#!/usr/bin/env python3
"""cilbench against a PyTorch CPU anchor, in alternation, on one machine.

The 2-vCPU machines this project is measured on drift by up to 2x within an hour, so a
cilbench figure and a PyTorch figure taken minutes apart say little about each other. This
script runs the two in turn, round after round (cilbench, anchor, cilbench, anchor, ...),
each as a fresh process, and reports per case the median and the best of each side's
per-round medians and their ratio (PyTorch time / cilbench time; above 1 means cilbench is
faster).

  python3 Benchmarks/compare-pytorch.py --anchor "bash torch_resnet.sh --channels-last" --rounds 4

The anchor command must print a Markdown table whose first column is the case name and
whose "ms/batch (median)" column is the step time, as the PyTorch ResNet-32 anchor used for
issue #14 does (its cases: plain-train, lucir-train, aanet-train, aanet-train-old2,
plain-infer). Case names are mapped to cilbench's `bench` cases below.
"""
import argparse
import json
import statistics
import subprocess
import sys

# cilbench bench case -> PyTorch anchor case
CASES = {
    "plain-train": "plain-train",
    "lucir-train": "lucir-train",
    "aanets-train": "aanet-train",
    "aanets-train-old": "aanet-train-old2",
    "inference": "plain-infer",
    "aanets-inference": "aanet-infer",
}


def run_cilbench(binary, threads, iterations):
    out = subprocess.run([binary, "bench", "--json", "--threads", str(threads), "--iterations", str(iterations),
                          "--cases", ",".join(CASES)], check=True, capture_output=True, text=True).stdout
    images_per_second = json.loads(out.strip().splitlines()[-1])
    return {case: 128 * 1000.0 / ips for case, ips in images_per_second.items()}


def run_anchor(command):
    out = subprocess.run(command, shell=True, check=True, capture_output=True, text=True).stdout
    header, times = None, {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| case"):
            header = cells
        elif header and line.startswith("|") and not line.startswith("|---"):
            times[cells[0]] = float(cells[header.index("ms/batch (median)")])
    if not times:
        sys.exit(f"compare-pytorch: the anchor printed no table:\n{out}")
    return times


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--anchor", required=True, help="command that runs the PyTorch anchor")
    p.add_argument("--cilbench", default=".build/release/cilbench")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--iterations", type=int, default=10, help="cilbench timed steps per case and round")
    args = p.parse_args()
    ours = {c: [] for c in CASES}
    theirs = {c: [] for c in CASES}
    for r in range(args.rounds):
        for case, ms in run_cilbench(args.cilbench, args.threads, args.iterations).items():
            ours[case].append(ms)
        anchor = run_anchor(args.anchor)
        for case, name in CASES.items():
            if name in anchor:
                theirs[case].append(anchor[name])
        print(f"round {r + 1}/{args.rounds}: " + ", ".join(
            f"{c} {ours[c][-1]:.0f}/{theirs[c][-1]:.0f}" for c in CASES if theirs[c]), file=sys.stderr, flush=True)
    print(f"# {args.rounds} rounds in alternation, {args.threads} threads, batch 128; ms/batch, per-round medians")
    # A round's two figures were taken minutes apart, so their ratio is the paired measure
    # that a drifting host disturbs least; its median is given beside the ratio of medians.
    print("| case | cilbench median | PyTorch median | ratio of medians | median of per-round ratios | cilbench best | PyTorch best | ratio of bests |")
    print("|---|---|---|---|---|---|---|---|")
    for case in CASES:
        if not theirs[case]:
            continue
        a, b = statistics.median(ours[case]), statistics.median(theirs[case])
        ab, bb = min(ours[case]), min(theirs[case])
        paired = statistics.median(t / o for o, t in zip(ours[case], theirs[case]))
        print(f"| {case} | {a:.1f} | {b:.1f} | {b / a:.2f}x | {paired:.2f}x | {ab:.1f} | {bb:.1f} | {bb / ab:.2f}x |")


if __name__ == "__main__":
    main()
