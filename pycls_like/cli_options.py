"""Options several commands share, in one place that both the CLI and the command modules import."""

import argparse


def add_overrides(parser: argparse.ArgumentParser, help: str) -> None:
    """The repeatable `--set KEY=VALUE` option every command shares (dotted keys nest)."""
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help=help
    )
