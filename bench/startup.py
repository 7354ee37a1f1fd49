"""How long the cheap commands take: ``--help``, ``--version`` and ``config``, each run
repeatedly in a fresh process; prints the median, min and max of the wall-clock time and the
median CPU time (user + system, which a busy machine inflates less). The target is 150 ms.

    python bench/startup.py [--runs 21]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

COMMAND = str(Path(sys.executable).parent / "drift-check")
#: ``config`` reads the bundled reference app's alembic.ini, as the quick start does.
REPO_ROOT = Path(__file__).resolve().parent.parent
CASES = {
    "drift-check --help": [COMMAND, "--help"],
    "drift-check --version": [COMMAND, "--version"],
    "drift-check config": [COMMAND, "config"],
    "python -c pass (the interpreter alone)": [sys.executable, "-c", "pass"],
}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    wall: dict[str, list[float]] = {label: [] for label in CASES}
    cpu: dict[str, list[float]] = {label: [] for label in CASES}
    for _ in range(args.runs):  # interleaved, so that a burst of load hits every case alike
        for label, command in CASES.items():
            started, used = time.perf_counter(), _children_cpu()
            subprocess.run(command, capture_output=True, check=True, cwd=REPO_ROOT)
            wall[label].append((time.perf_counter() - started) * 1000)
            cpu[label].append((_children_cpu() - used) * 1000)
    print(f"| command ({args.runs} runs each) | median ms | min-max ms | median CPU ms |")
    print("|---|---|---|---|")
    for label, runs in wall.items():
        print(
            f"| {label} | {statistics.median(runs):.0f} | {min(runs):.0f}-{max(runs):.0f} "
            f"| {statistics.median(cpu[label]):.0f} |"
        )


if __name__ == "__main__":
    main()
