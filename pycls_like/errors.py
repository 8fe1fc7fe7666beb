"""The one exception type users see: the CLI prints it as one line and exits with code 2."""


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


# Exit codes of `pycls-like` (README: "Exit codes"); scripts may rely on them.
EXIT_OK = 0  # done; for `sweep` and `demo`: every run finished (complete or diverged)
EXIT_USAGE = 2  # bad input (one `error:` line on stderr); nothing was done
EXIT_RUNS_FAILED = 3  # the sweep ran, but some runs failed or are corrupt (`sweep status` says why)
EXIT_RUNS_OPEN = 4  # no run failed, but some are still pending or running elsewhere
