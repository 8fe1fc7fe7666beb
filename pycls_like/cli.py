"""The `pycls-like` command: a thin dispatcher that imports only the chosen subcommand's module.

Each command module exposes `add_<name>(parser)` and `run_<name>(args) -> int`, and imports heavy
libraries (torch, pandas) only inside `run_<name>`, so `pycls-like complexity` starts fast.
A ConfigError anywhere becomes one line on stderr and exit code 2.
"""

import argparse
import importlib
import sys

from pycls_like.errors import ConfigError

# command -> (module, one-line description)
COMMANDS: dict[str, tuple[str, str]] = {
    "complexity": (
        "pycls_like.commands",
        "flops (multiply-adds), params, acts of presets or YAML specs",
    ),
    "presets": ("pycls_like.commands", "list the named models with their complexity"),
    "spaces": ("pycls_like.design.commands", "list the shipped design spaces"),
    "sample": ("pycls_like.design.commands", "sample a population of models from a design space"),
    "train": ("pycls_like.engine.commands", "train one model briefly and write its run directory"),
    "sweep": ("pycls_like.sweep.commands", "sample, train and collect a population (resumable)"),
    "analyze": (
        "pycls_like.analysis.commands",
        "EDFs, statistics and trends of sweeps as an HTML report",
    ),
    "fit-regnet": (
        "pycls_like.analysis.commands",
        "fit quantized-linear (RegNet) parameters to widths",
    ),
    "scale": ("pycls_like.scaling.commands", "scale a model by a compound scaling strategy"),
    "demo": ("pycls_like.demo", "compare two design spaces end to end on synthetic data"),
}


def add_overrides(parser: argparse.ArgumentParser, help: str) -> None:
    """The repeatable `--set KEY=VALUE` option every command shares (dotted keys nest)."""
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help=help
    )


def _usage() -> str:
    lines = ["usage: pycls-like COMMAND [ARGS ...]", "", "commands:"]
    lines += [f"  {name:<12} {desc}" for name, (_, desc) in COMMANDS.items()]
    lines += ["", "`pycls-like COMMAND --help` for the options of one command."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"pycls-like: error: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module_name, description = COMMANDS[name]
    func = name.replace("-", "_")
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(prog=f"pycls-like {name}", description=description)
    getattr(module, f"add_{func}")(parser)
    args = parser.parse_args(rest)
    try:
        return int(getattr(module, f"run_{func}")(args) or 0)
    except ConfigError as err:
        print(f"pycls-like {name}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"pycls-like {name}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
