"""How long the cheap commands take: ``--help``, ``--version`` and ``config``, each run
repeatedly in a fresh process; prints median, min and max (the target is 150 ms).

    python bench/startup.py [--runs 21]
"""

from __future__ import annotations

import argparse
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    samples: dict[str, list[float]] = {label: [] for label in CASES}
    for _ in range(args.runs):  # interleaved, so that a burst of load hits every case alike
        for label, command in CASES.items():
            started = time.perf_counter()
            subprocess.run(command, capture_output=True, check=True, cwd=REPO_ROOT)
            samples[label].append((time.perf_counter() - started) * 1000)
    print(f"| command | median ms | min-max ms |  ({args.runs} runs each)")
    print("|---|---|---|")
    for label, runs in samples.items():
        print(f"| {label} | {statistics.median(runs):.0f} | {min(runs):.0f}-{max(runs):.0f} |")


if __name__ == "__main__":
    main()
