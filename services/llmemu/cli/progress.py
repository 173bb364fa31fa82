"""Progress on stderr for long commands, drawn with rich; silent when stderr is not a
terminal (pipes, CI, tests), so output that is parsed never carries it.

- `Progress(label)` is a callback `(done, total)`: a bar with counts, elapsed and remaining
  time, shown only once the work has run for `delay_s` (a quick simulate prints nothing).
- `Activity(label, hint)` is a context manager for work that cannot count its steps
  (`reproduce`): a spinner with the elapsed time and a hint on how to make it shorter.
- `Activity.budget(...)` follows a search bounded by a time budget (`tune`): elapsed of the
  budget and the count of what was tried.
"""

from __future__ import annotations

import sys
import time
from typing import Any


def _console(stream: Any):
    from rich.console import Console

    return Console(file=stream)


class Progress:
    def __init__(self, label: str, *, stream=None, enabled: bool | None = None, delay_s: float = 1.0) -> None:  # fmt: skip
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.delay_s = delay_s
        self._start = time.monotonic()
        self._bar: Any = None
        self._task: Any = None

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self._bar is None:
            if time.monotonic() - self._start < self.delay_s or done >= total:
                return
            self._open()
        self._bar.update(self._task, completed=done, total=total)
        if done >= total:
            self.close()

    def _open(self) -> None:
        import rich.progress as rp

        columns = (rp.TextColumn("{task.description}"), rp.BarColumn(), rp.MofNCompleteColumn(),
                   rp.TimeElapsedColumn(), rp.TextColumn("left"), rp.TimeRemainingColumn())  # fmt: skip
        self._bar = rp.Progress(*columns, console=_console(self.stream), transient=False)
        self._task = self._bar.add_task(self.label, total=None)
        self._bar.start()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


class Activity:
    """A spinner and the elapsed time while a block runs (context manager)."""

    def __init__(self, label: str, hint: str = "", *, stream=None, enabled: bool | None = None) -> None:  # fmt: skip
        self.label = label
        self.hint = hint
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self._bar: Any = None
        self._task: Any = None
        self._budget_s: float | None = None
        self._start = time.monotonic()
        self.count = 0

    @classmethod
    def budget(cls, label: str, budget_s: float, **kwargs: Any) -> Activity:
        activity = cls(label, **kwargs)
        activity._budget_s = budget_s
        return activity

    def __enter__(self) -> Activity:
        if self.enabled:
            import rich.progress as rp

            columns: list[Any] = [rp.SpinnerColumn(), rp.TextColumn("{task.description}")]
            if self._budget_s is not None:
                columns += [rp.BarColumn(), rp.TextColumn("{task.fields[count]} tried")]
            columns += [rp.TimeElapsedColumn(), rp.TextColumn(self.hint, style="dim")]
            self._bar = rp.Progress(*columns, console=_console(self.stream), transient=False)
            self._task = self._bar.add_task(self.label, total=self._budget_s, count=0)
            self._bar.start()
        return self

    def tick(self) -> None:
        """One more thing tried (a budgeted search's evaluation)."""
        self.count += 1
        self._show()

    def _show(self) -> None:
        if self._bar is not None:
            elapsed = min(time.monotonic() - self._start, self._budget_s or 0.0)
            self._bar.update(self._task, completed=elapsed, count=self.count)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._show()
            self._bar.stop()
            self._bar = None
