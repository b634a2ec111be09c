"""The locator proxy for whole twin packages as they are: which candidate twin ranks the ladder
like its source world, before spending a study on it.

    python -m benchmarks.fidelity.locator_proxy --source kitchen_source \\
        --twin built=kitchen_twin --twin matched=envs/kitchen_matched \\
        --ladder benchmarks/fidelity/ladder-kitchen --states 30

The gap report (``benchmarks.fidelity.gap``) restyles one twin (its looks replace the
package's ``render``); this renders each ``--twin`` with its own render settings, e.g. a
colour map from ``twinbench env edit --colour-from``, and with its own initial conditions (a
rebuilt twin places the objects where its own reconstruction put them). Per twin and bundle:
the located fraction (red object within 2 cm and container within 3 cm, on the exterior
camera's first frame at the bundles' size), then Pearson and MMRV of those fractions against
the source's. One JSON line per figure on stdout.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from benchmarks.fidelity.gap import SEED, Report
from benchmarks.fidelity.gap_locator import locator_errors, proxy_agreement
from studies.fidelity.conditions import extra_conditions
from studies.fidelity.run import check_pair


def parse_twin(text: str) -> tuple[str, str]:
    """``NAME=PACKAGE`` as (name, package); a bare package is named after itself."""
    name, sep, package = text.partition("=")
    return (name, package) if sep and name and package else (Path(text).name, text)


def proxy(source_id: str, twins: dict[str, str], ladder: Path, states: int) -> dict:
    """Twin name -> {"locator": world -> bundle -> row, "proxy": agreement} (see module).

    Each twin gets its own source rows: the drawn states are collision-free in both worlds
    of a pair, so two twins may draw different ones."""
    report, out = Report(), {}
    for name, twin_id in twins.items():
        source, twin = check_pair(source_id, twin_id)
        count = max(states, len(source.spec.initial_conditions))
        conditions = extra_conditions((source, twin), count, SEED)
        locator = locator_errors(report, source, {name: twin}, conditions, ladder, states)
        out[name] = {"locator": locator, "proxy": proxy_agreement(report, locator)}
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", default="tabletop_source")
    parser.add_argument("--twin", action="append", required=True, help="NAME=PACKAGE (repeatable)")
    parser.add_argument("--ladder", type=Path, default=Path(__file__).with_name("ladder"))
    parser.add_argument("--states", type=int, default=30, help="initial conditions")
    args = parser.parse_args(argv)
    twins = dict(parse_twin(t) for t in args.twin)
    if len(twins) != len(args.twin):
        parser.error("--twin: two twins have the same name; name them NAME=PACKAGE")
    started = time.perf_counter()
    proxy(args.source, twins, args.ladder, args.states)
    print(f"# {time.perf_counter() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main()
