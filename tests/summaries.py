"""Session summaries that hold under xdist: each process that runs tests hands its totals to
the one that prints (the xdist controller, which loads no test directory's conftest), and that
one adds them up and prints them at the end (also under ``-q``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: Name -> this process's totals (registered by the conftests that keep them).
PRODUCERS: dict[str, Callable[[], dict[str, Any]]] = {}
#: Totals reported by xdist workers.
REPORTED: list[dict[str, dict[str, Any]]] = []


def collect() -> dict[str, dict[str, Any]]:
    return {name: produce() for name, produce in PRODUCERS.items()}


def _add(into: dict[str, Any], more: dict[str, Any]) -> None:
    for key, value in more.items():
        if key not in into:
            into[key] = value
        elif isinstance(value, dict):
            _add(into[key], value)
        elif isinstance(value, (int, float, list)):
            into[key] += value
        else:
            into[key] = value


def merged() -> dict[str, dict[str, Any]]:
    totals: dict[str, dict[str, Any]] = {}
    for part in [collect(), *REPORTED]:
        for name, values in part.items():
            _add(totals.setdefault(name, {}), values)
    return totals


def _reliability(totals: dict[str, Any]) -> list[str]:
    if totals["runs"] == 0 and not totals["bad_inputs"]:
        return []
    faults = ", ".join(f"{kind} {count}" for kind, count in sorted(totals["faults"].items()))
    rows = [
        ("drift-check runs", str(totals["runs"])),
        ("faults injected", str(sum(totals["faults"].values()))),
        ("  by kind", faults or "-"),
        ("bad inputs tried", str(totals["bad_inputs"])),
        ("leftover databases", str(totals["leftovers"])),
        ("secret occurrences", str(totals["secret_occurrences"])),
        ("  texts scanned", f"{totals['texts']} (of which {totals['cmdlines']} command lines)"),
        ("decoy database changes", str(totals["decoy_changes"])),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"{name:<{width}}  {value}" for name, value in rows]
    lines += [f"secret: {place}" for place in totals["secret_places"]]
    lines += [f"leftover: {name}" for name in totals["leftover_names"]]
    lines += [f"decoy: {detail}" for detail in totals["decoy_details"]]
    return lines


def _image(totals: dict[str, Any]) -> list[str]:
    lines = [f"{seconds:8.1f} s  {step}" for step, seconds in totals["timings"]]
    return lines + [f"{key}: {value}" for key, value in totals["facts"].items()]


SECTIONS = {
    "reliability": ("drift-check reliability summary", _reliability),
    "image": ("container image", _image),
}


def write(terminalreporter: Any) -> None:
    for name, totals in merged().items():
        title, render = SECTIONS[name]
        lines = render(totals)
        if lines:
            terminalreporter.write_sep("=", title)
            for line in lines:
                terminalreporter.write_line(line)
