"""Running a producer (decoder, renderer) in a background thread, a few items ahead of its consumer.

Decoding, detection, drawing and encoding all spend their time in C code that releases the GIL, so a
producer thread overlaps with the consumer's work on another core. The buffer is bounded: memory stays
that of `depth` items whatever the length of the stream.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_DONE = object()


def prefetch(items: Iterable[T], depth: int = 4) -> Iterator[T]:
    """Iterate `items` in a background thread, holding at most `depth` of them ahead.

    Exceptions of the producer are raised in the consumer; stopping early stops the producer.
    """
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        buffer.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            buffer.put(_DONE)
        except BaseException as error:  # handed to the consumer, which raises it
            buffer.put(error)

    thread = threading.Thread(target=produce, name="mimicmotion-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = buffer.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full buffer
            with contextlib.suppress(queue.Empty):
                buffer.get_nowait()
            thread.join(timeout=0.05)
