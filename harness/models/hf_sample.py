"""Sampled generation (``temperature > 0``) on a local model, each row yielded as soon as it ends.

``model.generate`` returns a batch only when its last row ends; it runs here in a worker thread
whose stopping criterion reports every row that has just produced an end token, so the caller
caches that row's output at once (a killed run keeps it). The outputs are exactly those of one
``model.generate`` call with the same seed: the criterion never stops a row itself.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Any

Rows = list[tuple[int, list[int]]]
_DONE = object()


def _until_end(tokens: list[int], eos: set[int]) -> list[int]:
    """The tokens before the first end token."""
    for n, t in enumerate(tokens):
        if t in eos:
            return tokens[:n]
    return tokens


def sample_rows(model: Any, ids: Any, mask: Any, config: Any, eos_ids: list[int], seed: int) -> Iterator[Rows]:
    """Sample a left-padded batch; yield ``[(row, new tokens)]`` for the rows that end at each step.

    Args:
        model: a transformers causal LM.
        ids: the padded prompt token ids (batch × length).
        mask: their attention mask.
        config: the ``GenerationConfig`` (``do_sample=True``).
        eos_ids: the end tokens (removed from the outputs).
        seed: ``torch.manual_seed`` before generating.
    """
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    eos = set(eos_ids)
    start = ids.shape[1]
    out: queue.Queue[Any] = queue.Queue()
    stop = threading.Event()  # set when the caller stops early: the worker ends at the next step
    reported: set[int] = set()

    class RowsEnded(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            ended = [
                (r, _until_end(input_ids[r, start:].tolist(), eos))
                for r, t in enumerate(input_ids[:, -1].tolist())
                if t in eos and r not in reported
            ]
            if ended:
                reported.update(r for r, _ in ended)
                out.put(ended)
            return torch.full((input_ids.shape[0],), stop.is_set(), dtype=torch.bool, device=input_ids.device)

    def work() -> None:
        try:
            with torch.inference_mode():
                torch.manual_seed(seed)
                gen = model.generate(
                    input_ids=ids, attention_mask=mask, generation_config=config,
                    stopping_criteria=StoppingCriteriaList([RowsEnded()]),
                )  # fmt: skip
            rest = [(r, _until_end(row, eos)) for r, row in enumerate(gen[:, start:].tolist()) if r not in reported]
            if rest:
                out.put(rest)
            out.put(_DONE)
        except BaseException as exc:  # out of memory and the like: raised in the caller's thread
            out.put(exc)

    worker = threading.Thread(target=work, name="hf-sample", daemon=True)
    worker.start()
    try:
        while (msg := out.get()) is not _DONE:
            if isinstance(msg, BaseException):
                raise msg
            yield msg
    finally:
        stop.set()
        worker.join()
