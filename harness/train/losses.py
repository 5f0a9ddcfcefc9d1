"""Losses: completion log-probabilities, the SFT negative log-likelihood, and DPO with named variants.

Batches come from the collators in :mod:`harness.train.collate`: left-padded, so every row's
trained tokens sit in the last columns and the language-model head runs only over those columns
(``logits_to_keep``). Logits at column ``t`` predict the token at column ``t + 1``.

DPO variants keep their published meaning; none changes another's silently:

- ``sigmoid`` (Rafailov et al., 2023): ``-log σ(β·h)``, ``h = (log π(y_w) - log π_ref(y_w)) -
  (log π(y_l) - log π_ref(y_l))`` with log-probs summed over completion tokens;
- ``cdpo`` (conservative DPO): ``-(1-ε)·log σ(β·h) - ε·log σ(-β·h)``, labels flipped with
  probability ``ε = label_smoothing``;
- ``ipo`` (Azar et al., 2023): ``(h' - 1/(2β))²`` where ``h'`` uses per-token mean log-ratios, the
  length-normalised form of the IPO authors (and TRL's ``ipo``).

Rewards are ``β`` times the summed policy-minus-reference log-ratio for every variant. Each
variant is registered in :data:`LOSSES` (``harness list losses``) with its reference.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from harness.errors import check_choice
from harness.registry import Registry

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["LOSSES", "DPOLoss", "LogRatios", "completion_nll", "dpo_loss", "logits_to_keep", "token_logps"]


def logits_to_keep(mask: Tensor) -> int:
    """How many trailing columns of logits cover every trained token of a left-padded batch.

    Example:
        >>> import torch
        >>> logits_to_keep(torch.tensor([[0, 0, 1, 1], [0, 0, 0, 1]]))
        3
    """
    import torch

    cols = torch.nonzero(mask.any(dim=0))
    if cols.numel() == 0:
        return 1
    first = max(int(cols[0, 0]), 1)  # a token at column 0 has nothing before it to predict it
    return mask.size(1) - first + 1


def token_logps(logits: Tensor, input_ids: Tensor, mask: Tensor) -> Tensor:
    """Per-token log-probabilities of the trained tokens (0 elsewhere).

    Args:
        logits: ``(B, K, V)`` logits of the last ``K`` columns.
        input_ids: ``(B, T)`` token ids.
        mask: ``(B, T)`` 1 where a token is trained.

    Returns:
        ``(B, K - 1)`` log-probabilities of the tokens at columns ``T-K+1 .. T-1``.
    """
    import torch.nn.functional as F

    k = logits.size(1)
    targets = input_ids[:, input_ids.size(1) - k + 1 :]
    keep = mask[:, mask.size(1) - k + 1 :].bool()
    picked = logits[:, :-1][keep].float()
    values = -F.cross_entropy(picked, targets[keep], reduction="none")
    # masked_scatter keeps the result in the graph even when no token is trained.
    return picked.new_zeros(targets.shape).masked_scatter(keep, values)


def _trained_logps(model: Any, batch: dict[str, Tensor], mask: Tensor) -> Tensor:
    """Per-token log-probabilities of the trained tokens, the head run over their columns only."""
    out = model(
        input_ids=batch["input_ids"],
        attention_mask=batch["attention_mask"],
        position_ids=batch.get("position_ids"),
        logits_to_keep=logits_to_keep(mask),
        use_cache=False,
    )
    return token_logps(out.logits, batch["input_ids"], mask)


def sequence_logps(model: Any, batch: dict[str, Tensor], mask: Tensor) -> Tensor:
    """Summed log-probabilities of the trained tokens of each row under ``model``."""
    return _trained_logps(model, batch, mask).sum(dim=1)


class NLL(NamedTuple):
    """Summed negative log-likelihood of the trained tokens and how many there were."""

    total: Tensor
    n_tokens: Tensor


def completion_nll(model: Any, batch: dict[str, Tensor]) -> NLL:
    """Negative log-likelihood of the labelled tokens (``labels != -100``) of a left-padded batch."""
    mask = batch["labels"] != -100
    mask[:, 0] = False
    logps = _trained_logps(model, batch, mask)
    return NLL(-logps.sum(), mask.sum())


class LogRatios(NamedTuple):
    """Policy-minus-reference log-ratios of a batch of pairs, and completion token counts."""

    chosen: Tensor
    rejected: Tensor
    chosen_lengths: Tensor | None
    rejected_lengths: Tensor | None


LOSSES: Registry[Callable[[LogRatios, float, float], Tensor]] = Registry("losses", noun="DPO loss")
"""DPO variants: ``loss(ratios, beta, label_smoothing)`` gives the per-pair losses."""


@LOSSES.register("sigmoid", reference="Rafailov et al. (2023)", options=("beta",))
def sigmoid_loss(r: LogRatios, beta: float, label_smoothing: float) -> Tensor:
    """-log σ(β·h): the logistic loss of DPO on the log-ratio margin h."""
    import torch.nn.functional as F

    return -F.logsigmoid(beta * (r.chosen - r.rejected))


@LOSSES.register("cdpo", reference="conservative DPO (Mitchell, 2023)", options=("beta", "label_smoothing"))
def cdpo_loss(r: LogRatios, beta: float, label_smoothing: float) -> Tensor:
    """-(1-ε)·log σ(β·h) - ε·log σ(-β·h): DPO with labels flipped with probability ε."""
    import torch.nn.functional as F

    margin = r.chosen - r.rejected
    return -(1 - label_smoothing) * F.logsigmoid(beta * margin) - label_smoothing * F.logsigmoid(-beta * margin)


@LOSSES.register("ipo", reference="Azar et al. (2023)", options=("beta",))
def ipo_loss(r: LogRatios, beta: float, label_smoothing: float) -> Tensor:
    """(h' - 1/(2β))² on the margin h' of per-token mean log-ratios (TRL's ipo)."""
    if r.chosen_lengths is None or r.rejected_lengths is None:
        raise ValueError("ipo needs chosen_lengths and rejected_lengths (completion token counts)")
    mean_margin = r.chosen / r.chosen_lengths.clamp(min=1) - r.rejected / r.rejected_lengths.clamp(min=1)
    return (mean_margin - 1 / (2 * beta)) ** 2


class DPOLoss(NamedTuple):
    """Per-pair DPO losses and the implicit rewards of each side."""

    losses: Tensor
    chosen_rewards: Tensor
    rejected_rewards: Tensor


def dpo_loss(
    chosen_logps: Tensor,
    rejected_logps: Tensor,
    ref_chosen_logps: Tensor,
    ref_rejected_logps: Tensor,
    *,
    beta: float = 0.1,
    loss: str = "sigmoid",
    label_smoothing: float = 0.0,
    chosen_lengths: Tensor | None = None,
    rejected_lengths: Tensor | None = None,
) -> DPOLoss:
    """The DPO loss of a batch of pairs from summed completion log-probs.

    Args:
        chosen_logps: policy log-probs of the chosen completions, summed over tokens, ``(B,)``.
        rejected_logps: the same for the rejected completions.
        ref_chosen_logps: reference-model log-probs of the chosen completions.
        ref_rejected_logps: reference-model log-probs of the rejected completions.
        beta: the KL-penalty strength (the IPO regularisation ``τ`` for ``ipo``).
        loss: ``sigmoid``, ``cdpo`` or ``ipo`` (see the module docstring).
        label_smoothing: ``ε`` of ``cdpo``, in (0, 0.5); must be 0 for the other variants.
        chosen_lengths: completion token counts of the chosen side (needed by ``ipo``).
        rejected_lengths: the same for the rejected side.

    Returns:
        ``DPOLoss(losses, chosen_rewards, rejected_rewards)``, each ``(B,)``.

    Example:
        >>> import torch
        >>> out = dpo_loss(torch.tensor([-5.0]), torch.tensor([-9.0]), torch.tensor([-6.0]), torch.tensor([-8.0]),
        ...                beta=0.5)
        >>> round(float(out.losses[0]), 4), round(float(out.chosen_rewards[0] - out.rejected_rewards[0]), 4)
        (0.3133, 1.0)
    """
    check_choice(loss, LOSSES.names(), param="loss", func="dpo_loss")
    if loss == "cdpo" and not 0 < label_smoothing < 0.5:
        raise ValueError(f"cdpo needs 0 < label_smoothing < 0.5; got {label_smoothing}")
    if loss != "cdpo" and label_smoothing != 0:
        raise ValueError(f"label_smoothing is only defined for cdpo; loss {loss!r} got {label_smoothing}")
    if beta <= 0:
        raise ValueError(f"beta must be > 0; got {beta}")
    ratios = LogRatios(chosen_logps - ref_chosen_logps, rejected_logps - ref_rejected_logps, chosen_lengths,
                       rejected_lengths)
    losses = LOSSES.get(loss)(ratios, beta, label_smoothing)
    return DPOLoss(losses, beta * ratios.chosen.detach(), beta * ratios.rejected.detach())
