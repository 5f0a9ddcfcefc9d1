"""The training data of a run: read the record files, tokenise them, and make the datasets.

Shared by every method: the offline ones (SFT, DPO, reward) encode records into examples here;
the online ones (GRPO, RLOO) read the records here and take their prompts.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from harness.errors import InputError
from harness.records import RowProblem, iter_records
from harness.train.collate import (
    Encoded,
    EncodeStats,
    TemplateChoice,
    encode_pair_records,
    encode_sft_records,
    resolve_chat_template,
)

if TYPE_CHECKING:
    from harness.train.config import TrainConfig

_COUNTS = ("n_records", "n_kept", "n_truncated", "n_dropped", "n_tokens", "n_trained_tokens")


def read_records(path: Path, *, allow_bad_rows: bool) -> tuple[list[Any], int]:
    """The records of one training file, and how many unreadable rows were skipped.

    Raises:
        InputError: an unreadable row (file, line, field) unless ``allow_bad_rows``.
    """
    records, bad = [], 0
    for item in iter_records(path):
        if isinstance(item, RowProblem):
            if not allow_bad_rows:
                raise InputError(item.message, file=path, line=item.line, field=item.field)
            bad += 1
            continue
        records.append(item)
    return records, bad


def _encode_records(cfg: TrainConfig, records: list[Any], tokenizer: Any, path: Path) -> Encoded:
    if cfg.method == "sft":
        return encode_sft_records(
            records,
            tokenizer,
            max_length=cfg.max_length,
            completion_only=cfg.completion_only_loss,
            source=str(path),
        )
    return encode_pair_records(records, tokenizer, max_length=cfg.max_length, source=str(path))


def _add_stats(total: EncodeStats, part: EncodeStats) -> None:
    for key in _COUNTS:
        setattr(total, key, getattr(total, key) + getattr(part, key))
    total.dropped_ids += part.dropped_ids[: 50 - len(total.dropped_ids)]


def encode_files(
    cfg: TrainConfig,
    files: list[Path],
    tokenizer: Any,
    *,
    allow_bad_rows: bool,
    conversions: list[Any] | None = None,
    margins: dict[str, float] | None = None,
) -> tuple[Encoded, int]:
    """Tokenise the records of ``files`` for ``cfg.method``; the examples and the rows skipped.

    Rankings become preference pairs for the pair methods (each conversion's summary appended to
    ``conversions``); each record's margin is put in ``margins`` by id.

    Raises:
        InputError: a bad row (unless ``allow_bad_rows``); no example left within ``max_length``.
    """
    examples: list[Any] = []
    stats = EncodeStats()
    skipped = 0
    for path in files:
        records, bad = read_records(path, allow_bad_rows=allow_bad_rows)
        skipped += bad
        if cfg.method != "sft" and any(r.kind == "ranking" for r in records):
            from harness.train.reward import rankings_as_pairs

            records, summary = rankings_as_pairs(records, cfg, path)
            if conversions is not None:
                conversions.append(summary)
        if margins is not None:
            margins.update({r.id: float(getattr(r, "margin", None) or 0.0) for r in records})
        enc = _encode_records(cfg, records, tokenizer, path)
        examples += enc.examples
        _add_stats(stats, enc.stats)
    if not examples:
        raise InputError(
            f"no example left to train on ({stats.n_dropped} dropped: no trained token within max_length "
            f"{cfg.max_length})",
            file=files[0],
        )
    return Encoded(examples, stats), skipped


class TrainingData(NamedTuple):
    """The encoded training (and eval) data of an offline run, with what reading it recorded."""

    template: TemplateChoice
    train: Encoded
    eval: Encoded | None
    rows_skipped: int
    conversions: list[Any]
    margins: dict[str, float]


def prepare_data(cfg: TrainConfig, tokenizer: Any, *, allow_bad_rows: bool) -> TrainingData:
    """Set the chat template on ``tokenizer`` and encode the training and eval files with it.

    Raises:
        ConfigError: no usable chat template.
        InputError: a bad row; no example left.
    """
    template = resolve_chat_template(tokenizer, cfg.chat_template)
    conversions: list[Any] = []
    margins: dict[str, float] = {}
    encoded, skipped = encode_files(
        cfg, cfg.train_data, tokenizer, allow_bad_rows=allow_bad_rows, conversions=conversions, margins=margins
    )
    eval_encoded = None
    if cfg.eval_data is not None:
        eval_encoded, _ = encode_files(
            cfg, [cfg.eval_data], tokenizer, allow_bad_rows=False, conversions=conversions, margins=margins
        )
    return TrainingData(template, encoded, eval_encoded, skipped, conversions, margins)


def to_dataset(cfg: TrainConfig, encoded: Encoded, margins: dict[str, float] | None = None) -> Any:
    """The encoded examples as a ``datasets.Dataset`` with the columns the method's collator reads."""
    import datasets

    if cfg.method == "sft":
        rows = [
            {"id": e.id, "input_ids": e.input_ids, "labels": e.labels, "length": len(e.input_ids)}
            for e in encoded.examples
        ]
    else:
        rows = [{**e._asdict(), "length": max(len(e.chosen_ids), len(e.rejected_ids))} for e in encoded.examples]
        if cfg.method == "reward":
            rows = [{**r, "margin": (margins or {}).get(r["id"], 0.0)} for r in rows]
    return datasets.Dataset.from_list(rows)
