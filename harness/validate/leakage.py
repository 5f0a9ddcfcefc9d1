"""Leakage and near-duplicate checks for ``validate_file``: thin views on the scanner in :mod:`harness.leakage`.

- :class:`LeakageCheck` (``leakage.exact``, ``leakage.ngram``, ``leakage.near_duplicate``,
  ``leakage.paraphrase``, plus one ``leakage.summary`` note) joins the single streaming pass
  when holdouts are given.
- :class:`NearDuplicates` (``duplicates.near``) runs on every file; with a :class:`LeakageCheck` in
  the same pass both use one scanner, so each text is hashed once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from harness.findings import Finding
from harness.leakage.api import prepare, summary, summary_finding
from harness.leakage.options import LeakageOptions, make_options
from harness.leakage.result import leak_findings, near_duplicate_findings
from harness.leakage.scan import Scanner
from harness.records import Record, record_texts
from harness.validate.checks import Check, CheckSettings, check

__all__ = ["LeakageCheck", "NearDuplicates"]


@check("duplicates.near", settings=("near_options",))
class NearDuplicates:
    """Training records that are near duplicates of each other (MinHash LSH, estimated Jaccard >= 0.8).

    Args:
        options: shingle size, ``near_threshold``, ``near_bands`` x ``near_rows``, workers.
    """

    name = "duplicates.near"

    def __init__(self, options: LeakageOptions | None = None) -> None:
        self.options = options or LeakageOptions()
        self.scanner: Scanner = Scanner(None, self.options, within=True)
        self.owner = True

    @classmethod
    def from_settings(cls, settings: CheckSettings) -> Check:
        """Scan with ``settings.near_options``."""
        return cls(settings.near_options)

    def attach(self, scanner: Scanner) -> None:
        """Take signatures from another check's scanner instead of hashing the records again."""
        scanner.within = True
        self.scanner = scanner
        self.owner = False

    def observe(self, record: Record) -> Iterable[Finding]:
        if self.owner:
            self.scanner.add(record.id, record.line, record_texts(record))
        return ()

    def finish(self) -> Iterable[Finding]:
        self.scanner.close()
        return near_duplicate_findings(self.scanner.store, self.scanner.opts)

    def close(self) -> None:
        """Stop worker processes (after an error mid-pass)."""
        if self.owner:
            self.scanner.abort()


@check("leakage", settings=("holdouts", "leakage_options"), default=False)
class LeakageCheck:
    """Training examples that leak holdout items: exact, n-gram, near-duplicate and paraphrase matches.

    Args:
        holdouts: JSONL files of items or suite folders.
        options: scan options (:class:`~harness.leakage.options.LeakageOptions`).
        **overrides: option overrides (``n=8``, ``paraphrase=False``...).

    Raises:
        InputError: a bad holdout, a bad option, or ``paraphrase=True`` without the ``embed`` extra.
    """

    name = "leakage"

    def __init__(
        self, holdouts: Sequence[str | Path], *, options: LeakageOptions | None = None, **overrides: Any
    ) -> None:
        self.prep = prepare(holdouts, make_options(options, **overrides))
        self.scanner = Scanner(self.prep.holdout_index, self.prep.options, embedder=self.prep.embedder)
        self.n_examples = 0
        self.summary: dict[str, Any] | None = None

    @classmethod
    def from_settings(cls, settings: CheckSettings) -> Check:
        """Scan against ``settings.holdouts`` with ``settings.leakage_options``."""
        return cls(settings.holdouts, options=settings.leakage_options)

    def share_with(self, near: NearDuplicates) -> None:
        """Feed ``near`` from this check's scanner (one hashing pass for both)."""
        near.attach(self.scanner)

    def observe(self, record: Record) -> Iterable[Finding]:
        self.n_examples += 1
        self.scanner.add(record.id, record.line, record_texts(record))
        return ()

    def finish(self) -> Iterable[Finding]:
        self.scanner.close()
        findings = leak_findings(self.scanner.hits, self.prep.holdout_index, self.prep.options)
        self.summary = summary(self.prep, findings, self.n_examples, self.scanner.n_texts)
        return [summary_finding(self.summary, self.prep.ran), *findings]

    def close(self) -> None:
        """Stop worker processes (after an error mid-pass)."""
        self.scanner.abort()
