"""The writing of a clip's frames (colour conversion, H.264/VP9 encoding and muxing, or each frame's PNG) on a
thread of its own, beside the stylising of the next frames (stylenet.video.pipeline)."""
from __future__ import annotations

import queue
import threading


class WriterThread:
    """Runs the writing (colour conversion, H.264/VP9 encoding, muxing; or a frame's PNG) on a thread of its own,
    at most ``depth`` calls behind, so that it overlaps the stylising of the next frames instead of following it
    (libx264, swscale and zlib release the GIL); or, with ``threaded=False``, each call at once, in the caller.
    Every call goes through the one thread, in order (a container is muxed from one thread: the clip's audio
    packets too). An error there is raised in the caller at its next call or at :meth:`close`. As a context
    manager it closes at the block's end, or abandons what is left when the block raised."""

    def __init__(self, threaded: bool = True, depth: int = 8):
        self.calls: queue.Queue = queue.Queue(depth)
        self.error: BaseException | None = None
        self.abandoned = False
        self.thread = threading.Thread(target=self._run, name="stylenet-writer", daemon=True) if threaded else None
        if self.thread is not None:
            self.thread.start()

    def _run(self) -> None:
        while (call := self.calls.get()) is not None:
            if self.error is None and not self.abandoned:
                try:
                    call[0](*call[1:])
                except BaseException as exc:  # noqa: BLE001 - handed to the caller
                    self.error = exc

    def _raise(self) -> None:
        if self.error is not None:  # (kept: the thread runs nothing more after an error)
            raise self.error

    def submit(self, fn, *args) -> None:
        if self.thread is None:
            fn(*args)
            return
        self._raise()
        self.calls.put((fn, *args))

    def close(self) -> None:
        """Wait for every call submitted to have run; raise the first error of one."""
        if self.thread is None:
            return
        self.calls.put(None)
        self.thread.join()
        self._raise()

    def __enter__(self) -> "WriterThread":
        return self

    def __exit__(self, kind, error, traceback) -> None:
        """Leaving the block: :meth:`close` (every call run), or :meth:`abandon` where it raised."""
        if kind is None:
            self.close()
        else:
            self.abandon()

    def abandon(self) -> None:
        """Stop at once (the run failed or was interrupted): calls not yet run are dropped."""
        if self.thread is None:
            return
        self.abandoned = True
        while True:  # make room for the stop even if the thread is blocked on a full queue's producer side
            try:
                self.calls.get_nowait()
            except queue.Empty:
                break
        self.calls.put(None)
        self.thread.join()


def overlaps(stylizer) -> bool:
    """Whether a clip's writing runs beside ``stylizer`` (:class:`WriterThread`): where the network runs on an
    accelerator (the CPU is free while it computes; not measured yet: no GPU run has had PyAV) and for eager
    PyTorch on a CPU, whose gaps between operations the encoder fills; not for a compiled network or onnxruntime
    on a CPU, whose kernels keep every core busy, so that a writer beside them only contends. Measured on 2
    vCPUs (AMD EPYC, AVX512-BF16, 2026-12-06; 240 frames of 1280x720, zoo_fast bf16, H.264, runs in turn):
    eager 4.51 / 4.84 frames/s inline, 4.79 / 5.22 with the thread (+6%, +8%); compiled 8.13 / 7.53 inline,
    7.32 / 6.45 with it (-10%, -14%) (docs/BENCHMARKS.md)."""
    if getattr(getattr(stylizer, "device", None), "type", "cpu") != "cpu":
        return True
    return getattr(stylizer, "_compiled", None) is None and getattr(stylizer, "session", None) is None
