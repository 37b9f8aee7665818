"""The headless search on several processes and machines (torchrun), through torch.distributed.

    torchrun --nproc_per_node 8 headhunter_cli.py --comfyui ~/ComfyUI search ...

torchrun starts one process per device and puts RANK, LOCAL_RANK, WORLD_SIZE and the rendezvous in
the environment. Every process loads the models onto its own device (cuda:LOCAL_RANK, or the CPU)
and runs the same search loop (core.greedy_search.greedy_search) on the same state. Each step the loop
hands over its next WORLD_SIZE batches of candidates, cut exactly as one process cuts them, and
process r evaluates batch r; all_gather_object brings every batch's scores to every process, so the
states stay equal and the result is the single-process result, batch for batch. Rank 0 alone reads
the checkpoint (and hands it to the others: nodes need not share a disk), writes it after each
step, renders the per-round images and writes the outputs.

The collectives run on gloo (TCP, CPU) even between GPUs: a step exchanges a few floats, never a
device tensor, and gloo has ``monitored_barrier``, which names the rank that did not arrive.

Failures never leave a process waiting at a collective: a process that dies closes its
connections, so the others fail at the next collective and stop with ``RunStopped`` (torchrun
then stops whatever is left and names the process that failed); one that hangs is named by rank
0's monitored barrier after HEADHUNTER_DIST_TIMEOUT seconds. Every finished step is in the
checkpoint, and any number of processes can resume it.

This module needs only torch: the command line loads it before ComfyUI, so that each process has
chosen its GPU before ComfyUI looks for one.
"""
from __future__ import annotations

import datetime
import os
import pickle
import signal

import torch

TIMEOUT_ENV = "HEADHUNTER_DIST_TIMEOUT"
# The longest one process may wait for another: model loading, one batch of candidates, rank 0's
# per-round images and its outputs must each fit (a 1024 px SD3 batch takes well under a minute).
DEFAULT_TIMEOUT_S = 1800.0


class RunStopped(KeyboardInterrupt):
    """This process stops because the distributed run lost a process, or torchrun stopped it.

    A KeyboardInterrupt, as Ctrl-C: it is raised from a signal handler too, and no ``except
    Exception`` on the way (ComfyUI's or ours) may swallow it."""


class SingleProcess:
    """One process alone: the search as without torchrun."""

    rank = 0
    world_size = 1
    device = None

    @property
    def is_writer(self) -> bool:
        return self.rank == 0

    def evaluate_batches(self, batches: list, evaluate) -> list[list[float]]:
        """Scores of several batches, ``evaluate(batch) -> scores`` for each."""
        return [list(evaluate(batch)) for batch in batches]

    def on_writer(self, fn):
        """``fn()`` on rank 0; its result (or its error) on every process."""
        return fn()

    def check_same(self, what: str, value: dict) -> None:
        """Refuse a run whose processes loaded different inputs."""

    def close(self) -> None:
        pass


class ProcessGroup(SingleProcess):
    """This process's place in a torchrun launch (see the module docstring)."""

    def __init__(self, rank: int, world_size: int, local_rank: int, device: str, timeout: datetime.timedelta):
        self.rank, self.world_size, self.local_rank, self.device = rank, world_size, local_rank, device
        self.timeout = timeout
        self._previous_sigterm = signal.signal(signal.SIGTERM, self._on_sigterm)

    def describe(self) -> str:
        return f"rank {self.rank} of {self.world_size} ({self.device})"

    def _on_sigterm(self, signum, frame):
        # torchrun sends SIGTERM to the processes left when one fails (or when it is stopped).
        # Raise once, so the search's cleanup runs; a second SIGTERM ends the process at once.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        raise RunStopped(self._stop_message("torchrun stopped this process: another process of the run failed "
                                            "or the run was stopped (torchrun's report names it)"))

    def _stop_message(self, reason: str) -> str:
        return (f"HeadHunter search stopped on {self.describe()}: {reason}. The checkpoint keeps every "
                "finished step; any number of processes can resume it.")

    def _lost(self, error: Exception) -> RunStopped:
        return RunStopped(self._stop_message(f"the run lost a process ({error})"))

    def _collective(self, fn, *args, **kwargs):
        import torch.distributed as dist

        try:
            return getattr(dist, fn)(*args, **kwargs)
        except RuntimeError as e:  # gloo: "Connection closed by peer", "Ranks 1 failed to pass monitoredBarrier"
            raise self._lost(e) from e

    def _gather(self, obj) -> list:
        # The barrier first: it names a rank that never arrives, where all_gather would only time out.
        self._collective("monitored_barrier", timeout=self.timeout, wait_all_ranks=True)
        out = [None] * self.world_size
        self._collective("all_gather_object", out, obj)
        return out

    def evaluate_batches(self, batches: list, evaluate) -> list[list[float]]:
        """Batch r on rank r (the loop never hands over more batches than processes), every
        batch's scores on every process. A process whose batch fails sends its error instead, so
        the others stop with it rather than wait for it at the next step."""
        if len(batches) > self.world_size:
            raise ValueError(f"{len(batches)} batches for {self.world_size} processes")
        mine, error = None, None
        if self.rank < len(batches):
            try:
                mine = [float(v) for v in evaluate(batches[self.rank])]
            except Exception as e:  # noqa: BLE001 - re-raised below, after the others know
                error = e
        replies = self._gather(("error", f"{type(error).__name__}: {error}") if error else ("ok", mine))
        if error is not None:
            raise error
        failed = [f"rank {r}: {msg}" for r, (kind, msg) in enumerate(replies) if kind == "error"]
        if failed:
            raise RunStopped(self._stop_message("another process failed on its batch of candidates ("
                                                + "; ".join(failed) + ")"))
        return [replies[r][1] for r in range(len(batches))]

    def on_writer(self, fn):
        error = None
        if self.rank == 0:
            try:
                reply = ("ok", fn())
            except Exception as e:  # noqa: BLE001 - every process raises it
                error = e
                reply = ("error", _picklable(e))
        box = [reply if self.rank == 0 else None]
        self._collective("broadcast_object_list", box, src=0)
        kind, value = box[0]
        if kind == "error":
            raise error if error is not None else value
        return value

    def check_same(self, what: str, value: dict) -> None:
        values = self._gather(value)
        differ = [r for r, v in enumerate(values) if v != values[0]]
        if differ:
            keys = sorted({k for r in differ for k in set(values[r]) | set(values[0]) if values[r].get(k) != values[0].get(k)})
            raise ValueError(f"the processes of this run loaded different {what}: rank(s) "
                             f"{', '.join(map(str, differ))} differ from rank 0 in {', '.join(keys)}. Every process "
                             "must load the same model files, prompts and settings.")

    def close(self) -> None:
        import torch.distributed as dist

        signal.signal(signal.SIGTERM, self._previous_sigterm)
        if dist.is_initialized():
            dist.destroy_process_group()


def _picklable(error: Exception) -> Exception:
    try:
        pickle.loads(pickle.dumps(error))
        return error
    except Exception:  # noqa: BLE001 - an error type pickle cannot rebuild travels as its text
        return RuntimeError(f"{type(error).__name__}: {error}")


def timeout_from_env() -> datetime.timedelta:
    text = os.environ.get(TIMEOUT_ENV, "").strip()
    if not text:
        return datetime.timedelta(seconds=DEFAULT_TIMEOUT_S)
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise SystemExit(f"{TIMEOUT_ENV}='{text}' is not a positive number of seconds")
    return datetime.timedelta(seconds=seconds)


def start(command: str, cpu: bool = False) -> SingleProcess:
    """This process's place in the run: alone, or (under torchrun with WORLD_SIZE > 1) joined to
    the process group with its device chosen. Call it before ComfyUI is imported."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return SingleProcess()
    if command != "search":
        raise SystemExit(f"'{command}' runs on one process; only the search spreads over torchrun's processes "
                         f"(WORLD_SIZE is {world_size}). Run it without torchrun.")
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    device = "cpu"
    if not cpu and torch.cuda.is_available():
        count = torch.cuda.device_count()
        if local_rank >= count:
            raise SystemExit(f"process {rank} (local rank {local_rank}) has no GPU of its own: this machine shows "
                             f"{count}. Start at most {count} processes per machine (--nproc_per_node), or add --cpu.")
        torch.cuda.set_device(local_rank)  # ComfyUI's get_torch_device() is the current CUDA device
        device = f"cuda:{local_rank}"
    timeout = timeout_from_env()
    import torch.distributed as dist

    try:
        dist.init_process_group("gloo", timeout=timeout)
    except RuntimeError as e:
        raise SystemExit(f"process {rank} could not join the other {world_size - 1} processes ({e})") from e
    return ProcessGroup(rank, world_size, local_rank, device, timeout)
