"""``python -m bench <name> [options]``: run the benchmark in ``bench/<name>.py``."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import bench

NOT_BENCHMARKS = {"settings", "common"}


def available() -> list[str]:
    return sorted(
        module.name for module in pkgutil.iter_modules(bench.__path__)
        if not module.name.startswith("_") and module.name not in NOT_BENCHMARKS
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    names = available()
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: python -m bench <name> [options]   (python -m bench <name> --help)")
        print("benchmarks: " + ", ".join(names))
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in names:
        print(f"unknown benchmark {name!r}; choose one of: {', '.join(names)}", file=sys.stderr)
        return 2
    module = importlib.import_module(f"bench.{name}")
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
