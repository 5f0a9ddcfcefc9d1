"""Evaluation methods of a suite: generated answers, or log-likelihood scoring.

``method`` in ``suite.yaml`` says how items are scored:

- ``generate`` (default): the model writes an output; the rubric's scorers score it.
- ``multiple_choice``: items have ``choices`` (at least two strings) and ``answer`` (the index of
  the right one); the model scores each choice's log-likelihood after the prompt, as
  lm-evaluation-harness's ``output_type: multiple_choice`` does. Criteria: ``acc`` (the most
  likely choice is the answer) and ``acc_norm`` (the most likely per **character** of the choice
  text, lm-eval's ``acc_norm``: ``argmax(loglikelihood / len(choice))``).
- ``perplexity``: items have ``text`` (a document); the model scores the whole document with
  rolling windows (lm-eval's ``loglikelihood_rolling``). Perplexity is lower-better and
  unbounded, so the per-item criteria are the model's geometric-mean probability per unit,
  ``exp(loglikelihood / units)`` = 1 / perplexity, which is in (0, 1] and higher-better:
  ``byte_probability`` (= 2^-bits_per_byte; the gated one, tokenizer-independent),
  ``token_probability`` and ``word_probability`` (weight 0). A gate rule
  ``{criterion: byte_probability, require: no_regression, margin: 0.01}`` therefore fails
  when the candidate's per-byte probability of general text drops by more than 0.01 (its
  perplexity rises). The perplexities themselves are in each item's ``loglik`` record and in the
  run's ``metrics`` (lm-eval's ``word_perplexity``, ``byte_perplexity``, ``bits_per_byte``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from harness.errors import SchemaError
from harness.eval.rubric import Rubric

Method = Literal["generate", "multiple_choice", "perplexity"]
METHODS: tuple[str, ...] = ("generate", "multiple_choice", "perplexity")
NORMALISATION = "characters"  # acc_norm divides by len(choice) in characters, as lm-eval does


class LoglikOptions(BaseModel):
    """How log-likelihood requests are built (``loglikelihood:`` in ``suite.yaml``).

    Attributes:
        target_delimiter: put between the prompt and each choice (lm-eval's default is one space).
        chat_template: render the prompt through the model's chat template (lm-eval's
            ``--apply_chat_template``); off by default, as in lm-eval.
    """

    model_config = ConfigDict(extra="forbid")
    target_delimiter: str = " "
    chat_template: bool = False


def default_rubric(method: str, path: str) -> Rubric:
    """The criteria a log-likelihood method scores (a run records them like any rubric)."""
    spec = {"type": "loglikelihood", "method": method}
    if method == "multiple_choice":
        criteria: list[dict[str, Any]] = [
            {"id": "acc", "description": "The most likely choice is the answer.", "scale": "binary",
             "scorer": {**spec, "metric": "acc"}},
            {"id": "acc_norm", "description": "The most likely choice per character is the answer (lm-eval acc_norm).",
             "scale": "binary", "weight": 0, "scorer": {**spec, "metric": "acc_norm", "normalisation": NORMALISATION}},
        ]  # fmt: skip
    else:
        criteria = [
            {"id": f"{unit}_probability", "weight": 1.0 if unit == "byte" else 0.0,
             "description": f"exp(loglikelihood / {unit}s) = 1/{unit} perplexity: higher is better.",
             "scorer": {**spec, "metric": f"{unit}_probability", "inverse_of": f"{unit}_perplexity"}}
            for unit in ("byte", "token", "word")
        ]  # fmt: skip
    return Rubric.model_validate({"name": method, "criteria": criteria, "path": path})


def check_item(method: str, data: dict[str, Any], *, file: str, line: int) -> dict[str, Any]:
    """Check (and normalise) one item's raw fields for a method; errors name file, line and field."""
    if method == "perplexity":
        text = data.get("text", data.get("prompt"))
        if not isinstance(text, str) or not text.strip():
            msg = "a perplexity item needs 'text': a non-empty document"
            raise SchemaError(msg, file=file, line=line, field="text")
        out = {k: v for k, v in data.items() if k != "text"}
        out["prompt"] = text
        return out
    if method == "multiple_choice":
        choices = data.get("choices")
        if not isinstance(choices, list) or len(choices) < 2:
            got = f"{len(choices)} option" if isinstance(choices, list) else type(choices).__name__
            raise SchemaError(
                f"'choices' must be a list of at least two options; got {got}", file=file, line=line, field="choices"
            )
        for i, c in enumerate(choices):
            if not isinstance(c, str) or not c:
                raise SchemaError("each choice must be non-empty text", file=file, line=line, field=f"choices[{i}]")
        answer = data.get("answer")
        if isinstance(answer, str) and answer.strip().isdigit():
            answer = int(answer)
        if not isinstance(answer, int) or isinstance(answer, bool) or not 0 <= answer < len(choices):
            raise SchemaError(
                f"'answer' must be the index of the right choice, 0 to {len(choices) - 1}; got {answer!r}",
                file=file,
                line=line,
                field="answer",
            )
        return {**data, "answer": answer}
    return data
