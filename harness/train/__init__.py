"""The thin fine-tuning runner behind ``harness train`` (SFT and DPO; LoRA, QLoRA, full).

``transformers.Trainer``, ``peft`` and ``accelerate`` train; this package checks the data first
(:mod:`~harness.train.preflight`), reads and tokenises it (:mod:`~harness.train.data`), masks
correctly (:mod:`~harness.train.collate`), names its DPO losses (:mod:`~harness.train.losses`) and
records the run (:mod:`~harness.train.rundir`, :mod:`~harness.train.manifest`).
Importing it does not import torch.
"""

from harness.train.config import TrainConfig, check_paths, load_config

__all__ = ["TrainConfig", "check_paths", "load_config"]
