"""The `pycls-like` command: a thin dispatcher that imports only the chosen subcommand's module.

`COMMANDS` is the registry: each command module exposes `add_<name>(parser)` and
`run_<name>(args) -> int`, and imports heavy
libraries (torch, pandas) only inside `run_<name>`, so `pycls-like complexity` starts fast.
A ConfigError anywhere becomes one line on stderr and exit code 2.
"""

import argparse
import importlib
import sys
from dataclasses import dataclass

from pycls_like.errors import ConfigError


@dataclass(frozen=True)
class Command:
    """A subcommand: the module that holds it (imported only when it runs), its `add(parser)` and
    `run(args) -> int` functions, and the one-line description `pycls-like` lists."""

    module: str
    add: str
    run: str
    description: str


def _command(module: str, name: str, description: str) -> Command:
    func = name.replace("-", "_")
    return Command(module, f"add_{func}", f"run_{func}", description)


COMMANDS: dict[str, Command] = {
    name: _command(module, name, description)
    for name, module, description in (
        ("complexity", "pycls_like.commands", "flops (multiply-adds), params, acts of presets or YAML specs"),
        ("presets", "pycls_like.commands", "list the named models with their complexity"),
        ("spaces", "pycls_like.design.commands", "list the shipped design spaces"),
        ("sample", "pycls_like.design.commands", "sample a population of models from a design space"),
        ("train", "pycls_like.engine.commands", "train one model briefly and write its run directory"),
        ("sweep", "pycls_like.sweep.commands", "sample, train and collect a population (resumable)"),
        ("analyze", "pycls_like.analysis.commands", "EDFs, statistics and trends of sweeps as an HTML report"),
        ("fit-regnet", "pycls_like.analysis.commands", "fit quantized-linear (RegNet) parameters to widths"),
        ("scale", "pycls_like.scaling.commands", "scale a model by a compound scaling strategy"),
        ("demo", "pycls_like.demo", "compare two design spaces end to end on synthetic data"),
    )
}  # fmt: skip


def _usage() -> str:
    lines = ["usage: pycls-like COMMAND [ARGS ...]", "", "commands:"]
    lines += [f"  {name:<12} {cmd.description}" for name, cmd in COMMANDS.items()]
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
    command = COMMANDS[name]
    module = importlib.import_module(command.module)
    parser = argparse.ArgumentParser(prog=f"pycls-like {name}", description=command.description)
    getattr(module, command.add)(parser)
    args = parser.parse_args(rest)
    try:
        return int(getattr(module, command.run)(args) or 0)
    except ConfigError as err:
        print(f"pycls-like {name}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"pycls-like {name}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
