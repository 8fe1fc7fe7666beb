"""The `pycls-like` command: a thin dispatcher that imports only the chosen subcommand's module.

`COMMANDS` is the registry: each command module exposes `add_<name>(parser)` and
`run_<name>(args) -> int`, and imports heavy
libraries (torch, pandas) only inside `run_<name>`, so `pycls-like complexity` starts fast.
Bad input of any kind ends in exactly one `error:` line on stderr and exit code 2 (README:
"Exit codes"): argparse's usage errors (the usage block only with --help), numbers out of their
bounds (`limits.py`), a ConfigError anywhere, and an OSError naming a path. Warnings are one
line each, before the error.
"""

import argparse
import importlib
import sys
import warnings
from dataclasses import dataclass
from typing import Any, NoReturn

from pycls_like.errors import EXIT_USAGE, ConfigError
from pycls_like.limits import check_number


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
        ("profile", "pycls_like.engine.profile_commands", "measured speed and memory of models or a sweep's runs"),
        ("demo", "pycls_like.demo", "compare two design spaces end to end on synthetic data"),
    )
}  # fmt: skip


class ArgumentParser(argparse.ArgumentParser):
    """argparse with a one-line usage error (the full usage block is `--help`'s job)."""

    def error(self, message: str) -> NoReturn:
        raise ConfigError(f"{message} (see `{self.prog} --help`)")


def check_numbers(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Every number given on the command line is finite and within its bound (`limits.py`)."""
    names = {a.dest: (a.option_strings or [a.dest])[-1] for a in parser._actions}
    for dest, value in vars(args).items():
        for item in value if isinstance(value, list | tuple) else (value,):
            check_number(item, names.get(dest, dest))


def _one_line_warnings(name: str) -> None:
    """Warnings as `pycls-like NAME: warning: ...` (the formatter only: recorders still record)."""

    def one_line(message: Any, category: Any, filename: str, lineno: int, line: Any = None) -> str:
        return f"pycls-like {name}: warning: {message}\n"

    warnings.formatwarning = one_line


def _usage() -> str:
    lines = ["usage: pycls-like COMMAND [ARGS ...]", "", "commands:"]
    lines += [f"  {name:<12} {cmd.description}" for name, cmd in COMMANDS.items()]
    lines += ["", "`pycls-like COMMAND --help` for the options of one command."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    if not argv or argv[0] not in COMMANDS:
        what = f"unknown command {argv[0]!r}" if argv else "expected a COMMAND"
        print(f"pycls-like: error: {what} (commands: {', '.join(COMMANDS)})", file=sys.stderr)
        return EXIT_USAGE
    name, rest = argv[0], argv[1:]
    command = COMMANDS[name]
    module = importlib.import_module(command.module)
    parser = ArgumentParser(prog=f"pycls-like {name}", description=command.description)
    getattr(module, command.add)(parser)
    formatter = warnings.formatwarning  # catch_warnings does not restore it
    try:
        _one_line_warnings(name)
        return _run(name, parser, rest, getattr(module, command.run))
    finally:
        warnings.formatwarning = formatter


def _run(name: str, parser: argparse.ArgumentParser, rest: list[str], run: Any) -> int:
    try:
        args = parser.parse_args(rest)
        check_numbers(parser, args)
        return int(run(args) or 0)
    except ConfigError as err:
        print(f"pycls-like {name}: error: {err}", file=sys.stderr)
        return getattr(err, "exit_code", EXIT_USAGE)  # RunsFailed: 3
    except OSError as err:  # a path the checks before the work could not foresee (disk full)
        where = f"{err.filename}: " if err.filename else ""
        print(f"pycls-like {name}: error: {where}{err.strerror or err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"pycls-like {name}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
