"""Leakage detection between training data and holdout sets, and within-train near duplicates.

Four methods, all in one streaming pass over the training data, on the words outside holdout
templates (an instruction repeated by max(3, 5% of the items) of a holdout; see
:class:`LeakageOptions` for why a family of near-identical items is not a template):

- ``exact``: identical after normalisation (NFKC, case folding, punctuation and spacing dropped);
- ``ngram``: shared word 13-grams (the GPT-3 contamination analysis), with the share of the
  holdout item's 13-grams found and the longest shared span;
- ``near_duplicate``: MinHash (one-permutation hashing, densified) over word 2-gram shingles with
  LSH banding (42 bands x 3 rows of 128 values) to find candidates, flagged at an exact Jaccard
  similarity of the two shingle sets >= 0.4;
- ``paraphrase``: all-MiniLM-L6-v2 sentence embeddings, cosine >= 0.8 (optional extra ``embed``).

Example:
    >>> import tempfile, pathlib, json
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> item = {"id": "h1", "prompt": "Name the three primary colours of light used by every television screen."}
    >>> _ = (d / "holdout.jsonl").write_text(json.dumps(item) + "\\n")
    >>> _ = (d / "train.jsonl").write_text(json.dumps({"prompt": item["prompt"], "completion": "RGB"}) + "\\n")
    >>> result = scan_leakage(d / "train.jsonl", [d / "holdout.jsonl"], paraphrase=False)
    >>> [(f.check, f.ids, f.holdout_ids) for f in result.findings]
    [('leakage.exact', ['L1'], ['h1'])]
"""

from harness.leakage.api import scan_leakage
from harness.leakage.embed import embed_available
from harness.leakage.holdout import HoldoutItem, load_holdout
from harness.leakage.methods import LEAKAGE, method_names
from harness.leakage.options import LeakageOptions, make_options
from harness.leakage.result import LeakageResult

__all__ = [
    "LEAKAGE",
    "HoldoutItem",
    "LeakageOptions",
    "LeakageResult",
    "embed_available",
    "load_holdout",
    "make_options",
    "method_names",
    "scan_leakage",
]
