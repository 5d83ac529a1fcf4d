"""``qnodeos validate [--preset P] [--json] [--plot PNG]``: the mocks against the published experiments.

For each preset named after an experiment, every figure that experiment published and the mocks can
measure — through the devices, and through the OS and network stack where the figure is end-to-end —
next to the paper's value and error bar, with a verdict. Exit code 0 when every row agrees, 1 when
one does not (2 for usage errors).
"""
from __future__ import annotations

import argparse
import importlib.util
import json

from . import CommandError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "validate", help="compare the mock devices with the published experiments their presets reproduce",
        description="Measure, on the mock devices, the figures each experiment-named preset claims "
                    "(pair fidelity, rates, coherence, teleportation, ion link) and compare them with the "
                    "papers. See docs/realism.md.")
    p.add_argument("--preset", action="append", metavar="P",
                   help="only this preset (repeatable; 'realistic' = the QNodeOS presets); default: all")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON instead of the table")
    p.add_argument("--plot", metavar="PNG", help="also write the NV fidelity-vs-alpha plot to this file")
    p.add_argument("--seed", type=int, default=1, help="seed of every sampled measurement (default 1)")
    p.add_argument("--samples", type=float, default=1.0,
                   help="scale of every sample size (default 1.0; smaller is faster and noisier)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from qnodeos.realism.measure import Context
    from qnodeos.realism.report import presets_with_rows, print_table, resolve, to_json, validate

    if args.seed < 0:
        raise CommandError(f"--seed {args.seed} must be >= 0")
    if not args.samples > 0:
        raise CommandError(f"--samples {args.samples} must be > 0")
    if args.plot and importlib.util.find_spec("matplotlib") is None:  # say so before the long run
        raise CommandError("--plot needs matplotlib: pip install 'qnodeos[plot]'")
    for name in args.preset or []:
        if not resolve(name) & {(p, n) for p in ("nv", "trapped_ion") for n in presets_with_rows()}:
            raise CommandError(f"--preset {name!r} has no published figures to check "
                               f"(presets with figures: {', '.join(presets_with_rows())}; also 'realistic')")
    ctx = Context(seed=args.seed, samples=args.samples)
    results, pending = validate(args.preset, ctx)
    if args.json:
        print(json.dumps(to_json(results, pending, ctx), indent=2))
    else:
        print_table(results, pending)
    if args.plot:
        from qnodeos.realism.plot import plot_alpha_curve

        out = plot_alpha_curve(args.plot)
        if not args.json:
            print(f"wrote {out}")
    return 0 if all(r.agree for r in results) else 1
