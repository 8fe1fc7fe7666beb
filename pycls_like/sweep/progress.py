"""Launch progress, read from the run directories so that every launcher reports alike.

A tqdm bar (done/failed counts, ETA) on a terminal; one line per finished run otherwise, so logs
of batch jobs stay readable.
"""

import sys
from pathlib import Path
from typing import Any

from pycls_like.sweep.claims import is_claimed
from pycls_like.sweep.rundir import (
    CORRUPT,
    FINISHED,
    attempts_in_launch,
    config_problem,
    read_result,
    status_of,
)


class Monitor:
    """Watches the runs of one launch and reports each once, when it ends (finished or failed)."""

    def __init__(
        self,
        todo: list[Path],
        total: int,
        launch: str,
        retries: int,
        quiet: bool = False,
        desc: str | None = None,
    ):
        self.todo = list(todo)
        self.over: set[Path] = set()  # runs whose task/job returned: no more attempts this launch
        self.launch, self.retries = launch, retries
        # What this launch did; runs that other invocations finished meanwhile are counted apart.
        self.counts = {"complete": 0, "diverged": 0, "failed": 0}
        self.elsewhere = 0
        self.total, self.done_before = total, total - len(todo)
        self.stream = sys.stderr
        self.bar = None
        self.quiet = quiet
        if not quiet and self.stream.isatty():
            from tqdm import tqdm

            self.bar = tqdm(
                total=total, initial=self.done_before, unit="run", file=self.stream, desc=desc
            )
            self.bar.set_postfix_str(self._postfix())

    def say(self, text: str) -> None:
        """A message line that does not break the progress bar."""
        if self.bar is not None:
            self.bar.write(text, file=self.stream)
        elif not self.quiet:
            print(text, file=self.stream, flush=True)

    def _postfix(self) -> str:
        c = self.counts
        return f"done {c['complete']} diverged {c['diverged']} failed {c['failed']}"

    def _ended(self, run_dir: Path) -> tuple[str, dict[str, Any] | None] | None:
        """(status, result) once the run will not change again in this launch, else None."""
        result, problem = read_result(run_dir)
        if result is not None and result["status"] in FINISHED:
            return result["status"], result
        if is_claimed(run_dir) or config_problem(run_dir) is not None:
            return None  # running, or waiting for the launch to rebuild its config
        over = run_dir in self.over or attempts_in_launch(run_dir, self.launch) > self.retries
        if over and status_of(run_dir, result, problem) in ("failed", CORRUPT):
            return "failed", result
        return None

    def poll(self) -> None:
        """Report runs that ended since the last poll."""
        for run_dir in list(self.todo):
            ended = self._ended(run_dir)
            if ended is None:
                continue
            self.todo.remove(run_dir)
            status, result = ended
            if status in FINISHED and not attempts_in_launch(run_dir, self.launch):
                self.elsewhere += 1  # trained by another invocation on this sweep
                status = "elsewhere"
            else:
                self.counts[status] += 1
            if self.bar is not None:
                self.bar.set_postfix_str(self._postfix(), refresh=False)
                self.bar.update(1)
            elif not self.quiet:
                self._print_line(run_dir.name, status, result or {})

    def _print_line(self, run: str, status: str, result: dict[str, Any]) -> None:
        finished = self.done_before + sum(self.counts.values()) + self.elsewhere
        width = len(str(self.total))
        line = f"[{finished:>{width}}/{self.total}] {run} {status}"
        if status == "elsewhere":
            line = f"{line[: -len(status)]}finished by another launch"
        err, secs = result.get("top1_err"), result.get("train_time_s")
        if status in FINISHED and isinstance(err, int | float):
            line += f"  top1_err {err:.2f}"
        if isinstance(secs, int | float):
            line += f"  ({secs:.1f} s)"
        if status == "failed" and result.get("error"):
            line += f"  {str(result['error'])[:200]}"
        print(line, file=self.stream, flush=True)

    def close(self) -> None:
        self.poll()
        if self.bar is not None:
            self.bar.close()
