"""The one exception type users see: the CLI prints it as one line and exits with code 2; and
the one note for a deprecated name that still loads."""

import sys


class ConfigError(ValueError):
    """Bad user input (spec, YAML, space, sweep, data path); the message names where and what."""

    def __init__(self, message: str, *, key: str | None = None, source: str | None = None):
        self.message, self.key, self.source = message, key, source
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = ": ".join(part for part in (self.source, self.key) if part)
        return f"{where}: {self.message}" if where else self.message

    def located(self, *, source: str | None = None, prefix: str | None = None) -> "ConfigError":
        """Return the same error with a file name and/or a key prefix added (raised by loaders)."""
        key = f"{prefix}.{self.key}" if prefix and self.key else (prefix or self.key)
        return ConfigError(self.message, key=key, source=source or self.source)


_WARNED: set[str] = set()


def warn_renamed(old: str, new: str, source: str | None = None) -> None:
    """A deprecated name was read (it still works): say so on stderr, naming its new name; once
    per process and place (a sweep of old run configs gets one note, not one per run)."""
    where = f"{source}: " if source else ""
    line = f"warning: {where}{old} is deprecated; use {new}"
    if line not in _WARNED:
        _WARNED.add(line)
        print(line, file=sys.stderr)


# Exit codes of `pycls-like` (README: "Exit codes"); scripts may rely on them.
EXIT_OK = 0  # done; for `sweep` and `demo`: every run finished (complete or diverged)
EXIT_USAGE = 2  # bad input (one `error:` line on stderr); nothing was done
EXIT_RUNS_FAILED = 3  # the sweep ran, but some runs failed or are corrupt (`sweep status` says why)
EXIT_RUNS_OPEN = 4  # no run failed, but some are still pending or running elsewhere


class RunsFailed(ConfigError):
    """The input was fine and the work ran, but runs failed (e.g. `demo` with no finished run to
    report on): one `error:` line like any ConfigError, and exit code 3 instead of 2."""

    exit_code = EXIT_RUNS_FAILED
