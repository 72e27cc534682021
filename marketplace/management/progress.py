"""Console helpers for long management commands: a rich progress bar, quieter logs."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from marketplace.importing import ProgressCallback


@contextmanager
def rich_progress(*, enabled: bool = True) -> Iterator[ProgressCallback]:
    """Yield a `(phase, done, total)` callback drawing one bar per phase on stderr.

    Nothing is drawn when stderr is not a terminal (tests, CI logs, pipes).
    """
    console = Console(stderr=True)
    bar = Progress(
        TextColumn("{task.description:<12}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not (enabled and console.is_terminal),
    )
    tasks: dict[str, TaskID] = {}

    def update(phase: str, done: int, total: int) -> None:
        if phase not in tasks:
            tasks[phase] = bar.add_task(phase, total=total)
        bar.update(tasks[phase], completed=done, total=total)

    with bar:
        yield update


@contextmanager
def quiet_info_logs(*, verbosity: int) -> Iterator[None]:
    """Mute INFO and DEBUG log records below `-v 2`: one line per money move buries a summary."""
    if verbosity >= 2:
        yield
        return
    logging.disable(logging.INFO)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)
