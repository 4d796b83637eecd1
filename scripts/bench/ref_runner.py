#!/usr/bin/python3
"""Runs the plain-PyTorch reference (../shared/bench/cfm_ref.py) for scripts/bench.sh.

The reference's own main() does all the work, unchanged; this wrapper only
  * records every training step's loss (the value cfm_ref.train() already
    collects) in --losses FILE, so the bench can give the final loss a
    standard error, and
  * with --nll-n N evaluates the likelihood on the first N points instead of
    the workload's default (one batch either way).
Run it with Debian's interpreter: /usr/bin/python3 ref_runner.py --ref DIR
[--losses FILE] [--nll-n N] -- <cfm_ref.py arguments>.
"""
import argparse
import json
import os
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ref", required=True, help="folder holding cfm_ref.py")
    ap.add_argument("--losses", default=None, help="write per-step training losses here (JSON)")
    ap.add_argument("--nll-n", type=int, default=None, help="likelihood on the first N points")
    ap.add_argument("rest", nargs=argparse.REMAINDER, help="-- then cfm_ref.py's arguments")
    args = ap.parse_args()
    rest = args.rest[1:] if args.rest[:1] == ["--"] else args.rest

    sys.path.insert(0, os.path.abspath(args.ref))
    import cfm_ref  # noqa: E402  (the path is only known at run time)

    captured = {}
    original_train = cfm_ref.train

    def train(net, batch_fn, steps):
        losses, wall, t_first = original_train(net, batch_fn, steps)
        captured["losses"] = losses
        return losses, wall, t_first

    cfm_ref.train = train
    if args.nll_n is not None:
        for cfg in cfm_ref.CFG.values():
            cfg["nll_n"] = min(cfg["nll_n"], args.nll_n)
    cfm_ref.main(rest)
    if args.losses and "losses" in captured:
        with open(args.losses, "w") as f:
            json.dump(captured["losses"], f)


if __name__ == "__main__":
    main()
