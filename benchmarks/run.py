"""Benchmark runner: ``python benchmarks/run.py [NAME ...] [--quick]``.

Each ``benchmarks/<name>.py`` defines ``run(quick: bool) -> dict`` returning at least
``{"ratios": {label: {"value": x, "target": t, "better": "lower"|"higher"}}, ...}``.
Speeds are compared as ratios against a reference measured in the same run (never as an
absolute time), and peak memory is recorded.  Results go to ``benchmarks/results/<name>.json``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import resource
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
SKIP = {"run", "__init__"}


def available() -> list[str]:
    return sorted(p.stem for p in HERE.glob("*.py") if p.stem not in SKIP and not p.stem.startswith("_"))


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"benchmarks.{name}", HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def meets(ratio: dict) -> bool:
    if ratio["better"] == "lower":
        return ratio["value"] <= ratio["target"]
    return ratio["value"] >= ratio["target"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default: all of {available()})")
    parser.add_argument("--quick", action="store_true", help="smaller sizes (for a smoke check)")
    args = parser.parse_args(argv)
    names = args.names or available()
    unknown = sorted(set(names) - set(available()))
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; available: {available()}")
    RESULTS.mkdir(exist_ok=True)
    all_met = True
    for name in names:
        start = time.perf_counter()
        result = load(name).run(quick=args.quick)
        result.update(
            name=name, quick=args.quick, wall_s=time.perf_counter() - start, python=platform.python_version(),
            machine=platform.machine(), cpus=__import__("os").cpu_count(), date=time.strftime("%Y-%m-%d %H:%M:%S"),
            peak_rss_mb_self=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            peak_rss_mb_children=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        )
        for ratio in result["ratios"].values():
            ratio["meets_target"] = meets(ratio)
            all_met &= ratio["meets_target"]
        suffix = "-quick" if args.quick else ""
        (RESULTS / f"{name}{suffix}.json").write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
        print(f"== {name} ({result['wall_s']:.1f} s, peak RSS {result['peak_rss_mb_self']:.0f} MB self, "
              f"{result['peak_rss_mb_children']:.0f} MB largest child)")
        for label, ratio in result["ratios"].items():
            mark = "ok " if ratio["meets_target"] else "MISS"
            sign = "<=" if ratio["better"] == "lower" else ">="
            print(f"  [{mark}] {label}: {ratio['value']:.3g} (target {sign} {ratio['target']:g})")
        for label, value in result.get("measurements", {}).items():
            print(f"         {label}: {value:.4g}" if isinstance(value, float) else f"         {label}: {value}")
    return 0 if all_met else 1


if __name__ == "__main__":
    sys.exit(main())
