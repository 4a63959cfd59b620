"""`python -m bench [rush|journey|fanout|attendees|weight]`: run the benchmarks (all by default) and print
their tables. The exit status is non-zero if any of them failed a check."""

from __future__ import annotations

import sys

from bench import attendees, fanout, journey, rush, weight

SCENARIOS = {
    "weight": weight.main,
    "rush": rush.main,
    "journey": journey.main,
    "fanout": fanout.main,
    "attendees": attendees.main,
}


def main(argv: list[str]) -> int:
    names = argv or list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        print(f"unknown scenario(s): {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}", file=sys.stderr)
        return 2
    status = 0
    for name in names:
        status = max(status, SCENARIOS[name]())
    return status


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
