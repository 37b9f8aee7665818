"""Progress of long HeadHunter jobs: ComfyUI's progress bar and node text, and tqdm on the console."""
from __future__ import annotations

import logging
import time

import comfy.utils

log = logging.getLogger("HeadHunter")


def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else (f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s")


class JobProgress:
    """``update(done, total, note)`` from the search; the ETA counts only this session's pace, so a
    resumed run does not take restored work for speed."""

    def __init__(self, title: str, node_id: str | None = None, console: bool = True):
        self.title, self.node_id = title, node_id
        self.bar = None
        self.tqdm = None
        self.console = console
        self.start_time = None
        self.start_done = 0

    def update(self, done: int, total: int, note: str = "") -> None:
        now = time.monotonic()
        if self.bar is None:
            self.bar = comfy.utils.ProgressBar(total, node_id=self.node_id)
            self.start_time, self.start_done = now, done
            if self.console:
                from tqdm.auto import tqdm

                self.tqdm = tqdm(total=total, initial=done, desc=self.title, unit="cand")
        eta = ""
        if done > self.start_done:
            rate = (now - self.start_time) / (done - self.start_done)
            eta = f" - ETA {format_duration(rate * (total - done))}"
        self.bar.update_absolute(done, total)
        if self.tqdm is not None:
            self.tqdm.update(done - self.tqdm.n)
            self.tqdm.set_postfix_str(note[:60], refresh=False)
        self._node_text(f"{self.title}: {done}/{total} candidate evaluations{eta}\n{note}")

    def _node_text(self, text: str) -> None:
        if self.node_id is None:
            return
        try:
            from server import PromptServer

            PromptServer.instance.send_progress_text(text, self.node_id)
        except (ImportError, AttributeError):  # headless: no server
            pass

    def close(self) -> None:
        if self.tqdm is not None:
            self.tqdm.close()
