"""`pycls-like train CONFIG --out DIR`: train one model and write its run directory.

Exit codes: 0 for a finished run (complete or diverged: divergence is a result), 1 for a run
that failed (traceback in DIR/error.txt), 2 for bad input (printed as one line by the CLI).
Running it again on the same DIR resumes, or reports the finished result. This module imports
only the standard library; torch is imported inside `run_train`.
"""

import argparse
import json
import sys

from pycls_like.cli_options import add_overrides


def add_train(parser: argparse.ArgumentParser) -> None:
    parser.usage = "%(prog)s CONFIG [KEY VALUE ...] --out DIR [options]"
    parser.add_argument(
        "config",
        nargs="+",
        metavar="CONFIG",
        help="run config YAML (native or pycls format), then optional pycls-style overrides "
        "(OPTIM.MAX_EPOCH 1), as `--set KEY=VALUE`",
    )
    # pycls users put the KEY VALUE pairs last, after the options: let them mix.
    parser.parse_args = parser.parse_intermixed_args  # type: ignore[method-assign]
    parser.add_argument(
        "--out", required=True, metavar="DIR", help="run directory (resumed if it holds a run)"
    )
    add_overrides(
        parser, "override a config key, e.g. optim.lr=0.2 or data.path=/data/cifar (repeatable)"
    )
    parser.add_argument(
        "--device", choices=("auto", "cpu", "cuda"), help="where to train (default: config, auto)"
    )
    parser.add_argument(
        "--threads", type=int, metavar="N", help="CPU threads (default: cores available)"
    )
    parser.add_argument(
        "--gpus",
        type=int,
        metavar="K",
        help="train data-parallel over K processes, one per GPU (pycls NUM_GPUS; the batch is "
        "split over them); without CUDA, or with --device cpu, K CPU processes (gloo)",
    )
    parser.add_argument("--json", action="store_true", help="print result.json to stdout")
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="no progress bar or epoch lines, only the result"
    )


def run_train(args: argparse.Namespace) -> int:
    import logging
    from pathlib import Path

    from pycls_like.engine.config import load_run_config
    from pycls_like.errors import ConfigError
    from pycls_like.fileio import check_output_dir
    from pycls_like.io import split_trailing_overrides

    config, trailing = split_trailing_overrides(args.config)
    if len(config) != 1:
        raise ConfigError(f"expected one CONFIG (then KEY VALUE pairs), got {' '.join(config)}")
    overrides = [*args.overrides, *trailing]
    if args.device:
        overrides.append(f"device={args.device}")
    if args.threads is not None:
        overrides.append(f"threads={args.threads}")
    if args.gpus is not None:
        overrides.append(f"gpus={args.gpus}")
    check_output_dir(Path(args.out), "--out")  # before any work
    cfg = load_run_config(config[0], overrides)
    if cfg.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ConfigError(f"{cfg.device} requested but no GPU is visible", key="device")
    level = logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level, format="%(message)s", stream=sys.stderr)
    # Say what is about to happen before torch loads (seconds on a busy machine).
    from pycls_like.complexity import complexity

    cx = complexity(cfg.model)  # computed once: said here, recorded in the result
    logging.getLogger("pycls_like.train").info(
        "%s: training %s (%s, %.1f MF at %d px) on %s for %d epoch(s)",
        args.out, config[0], cfg.model.family, cx.flops / 1e6,
        cfg.model.resolution, cfg.data.dataset, cfg.optim.epochs,
    )  # fmt: skip
    from pycls_like.engine.trainer import train

    try:
        result = train(cfg, args.out, model_complexity=cx)
    except Exception as err:
        if isinstance(err, ConfigError):
            # Data and model errors surface while training: name the config they came from.
            raise err.located(source=err.source or config[0]) from None
        print(
            f"pycls-like train: run failed: {type(err).__name__}: {err} "
            f"(traceback in {args.out}/error.txt)",
            file=sys.stderr,
        )
        return 1
    if args.json:
        print(json.dumps(result, indent=1))
    elif result["status"] == "diverged":
        print(f"diverged in epoch {result['epochs']} (errors recorded as 100%): {args.out}")
    else:
        print(
            f"complete: top1_err {result['top1_err']:.2f}  top5_err {result['top5_err']:.2f}  "
            f"(best {result['best_top1_err']:.2f})  {result['epochs']} epochs  "
            f"{result['images_per_s']:.0f} img/s  {result['train_time_s']:.1f} s: {args.out}"
        )
    return 0
