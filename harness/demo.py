"""``make demo``: the whole story on the bundled model and data, stage by stage.

1. validate the example training data against the bundled suites (planted problems shown), then
   continue with a cleaned copy;
2. check the example ratings' agreement (a planted unreliable rater is flagged) and calibrate a judge
   model against the raters' consensus;
3. LoRA-train SmolLM2-135M-Instruct on the cleaned data;
4. gate the candidate against the base on the task, general-knowledge and safety suites, and the
   forgetting check by log-likelihood: multiple-choice knowledge and perplexity on general text;
5. red-team base and candidate on the bundled 100 harmful and 100 benign seed prompts (plain and
   base64-encoded attacks): attack-success and over-refusal rates, new successful attacks;
6. write the HTML report under ``reports/`` and say where it is.

Each stage runs the same ``harness`` command a user would, shown before it runs. The verdict is
whatever the data gives: nothing here is scripted to pass.

    python -m harness.demo [--quick] [--out reports/demo]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
SUITES = ["suites/tickets", "suites/general", "suites/safety", "suites/knowledge", "suites/general-text"]
# Checks whose examples the demo drops before training: errors, exact duplicates and personal data.
DROP_CHECKS = ("schema.", "duplicates.exact", "duplicates.conflicting", "pii.", "leakage.", "chat.")
console = Console(stderr=True)


class _Stages:
    """Announces each stage and keeps its start time for the closing time table."""

    def __init__(self) -> None:
        self.starts: list[tuple[str, float]] = []

    def start(self, n: int, title: str) -> None:
        if self.starts:
            console.print(f"[dim]stage {len(self.starts)} took {time.monotonic() - self.starts[-1][1]:.0f} s[/]")
        self.starts.append((f"{n}. {title}", time.monotonic()))
        console.print()
        console.print(Panel.fit(f"[bold]Stage {n}[/] · {title}", border_style="cyan"))

    def elapsed(self) -> float:
        """Seconds since the first stage started."""
        return time.monotonic() - self.starts[0][1]

    def table(self) -> Table:
        """Wall time of each stage so far (the last one up to now)."""
        table = Table(title="Time per stage", title_justify="left")
        table.add_column("stage")
        table.add_column("seconds", justify="right")
        ends = [t for _, t in self.starts[1:]] + [time.monotonic()]
        for (title, start), end in zip(self.starts, ends, strict=True):
            table.add_row(title, f"{end - start:.0f}")
        table.add_row("[bold]total[/]", f"[bold]{self.elapsed():.0f}[/]")
        return table


def _harness(*args: str, ok: tuple[int, ...] = (0,), capture: bool = False) -> subprocess.CompletedProcess[str]:
    """Run a ``harness`` verb as a user would, showing the command; fail the demo on other exit codes."""
    cmd = [sys.executable, "-m", "harness", *args]
    console.print(f"[dim]$ harness {' '.join(shlex.quote(a) for a in args)}[/]")
    r = subprocess.run(cmd, cwd=ROOT, text=True, stdout=subprocess.PIPE if capture else None)
    if r.returncode not in ok:
        console.print(f"[bold red]demo stopped:[/] 'harness {args[0]}' exited {r.returncode}")
        sys.exit(2)
    return r


def clean_training_data(validation: dict[str, Any], source: Path, target: Path) -> tuple[int, int]:
    """Write ``source`` without the examples that blocking or personal-data findings name.

    Of a group of exact duplicates the first is kept. Returns (kept, dropped).
    """
    drop: set[str] = set()
    for f in validation["findings"]:
        if not f["check"].startswith(DROP_CHECKS):
            continue
        ids = f.get("ids", [])
        drop.update(ids[1:] if f["check"] == "duplicates.exact" else ids)
    kept = dropped = 0
    lines = []
    for n, line in enumerate(source.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        if str(row.get("id", f"L{n}")) in drop:
            dropped += 1
            continue
        kept += 1
        lines.append(line)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return kept, dropped


def judge_calibration(out: Path, *, limit: int | None) -> None:
    """Grade the rated outputs with the judge model and measure its agreement with the raters."""
    import statistics

    from harness.compare.calibration import judge_agreement
    from harness.eval.run import load_run
    from harness.files import write_json
    from harness.records import iter_records

    args = ["eval", "examples/judge", "--model", "outputs:examples/judge/outputs.jsonl", "--out", str(out)]
    _harness(*args, *(["--limit", str(limit)] if limit else []))
    run = load_run(out / "run.json")
    people: dict[str, list[float]] = {}
    for r in iter_records(ROOT / "examples" / "ratings.csv"):
        if getattr(r, "criterion", None) == "correctness":
            people.setdefault(r.item_id, []).append(float(r.score))  # type: ignore[union-attr]
    judge, consensus = [], []
    for item in run.items:
        score = item.scores.get("correctness")
        if score is None or score.value is None or item.id not in people:
            continue
        judge.append(score.value)
        consensus.append((statistics.median(people[item.id]) - 1) / 4)  # 1-5 onto [0, 1] as the run does
    cal = judge_agreement(judge, consensus, criterion="correctness", scale="levels", n_levels=5)
    alpha = "undefined" if cal.alpha is None else f"{cal.alpha:.3f}"
    kappa = "undefined" if cal.kappa is None else f"{cal.kappa:.3f}"
    style = "green" if cal.status == "calibrated" else "yellow"
    console.print(
        f"Judge (smollm2-135m) vs raters' median on {cal.n_items} outputs: Krippendorff alpha ({cal.alpha_level}) "
        f"{alpha}, Cohen kappa ({cal.kappa_weights}) {kappa} → [{style}]{cal.status}[/]"
        + (f" ({cal.reason}): its grades would not count in a gate" if cal.reason else "")
    )
    doc = cal.model_dump(mode="json")
    doc.update(
        n_ratings=sum(len(people[i.id]) for i in run.items if i.id in people),
        rated="examples/judge/outputs.jsonl",
        ratings_file="examples/ratings.csv",
    )
    write_json(out / "calibration.json", doc)


def _fresh_run_dir(run_dir: Path) -> None:
    """The demo trains from scratch every time: an earlier demo's run folder (a harness train run) is removed.

    A folder there that is not a harness train run (no ``config.yaml``) is left alone, and ``harness
    train`` then refuses it, naming it.
    """
    if (run_dir / "config.yaml").is_file():
        console.print(f"[dim]removing the earlier demo run {run_dir}[/]")
        shutil.rmtree(run_dir)


def red_team(out: Path, run_dir: Path, *, limit: int | None) -> int:
    """Plain and base64 attacks on base and candidate; returns the red-team verdict's exit code.

    Two strategies and 16 new tokens keep the stage short on a laptop: ``none`` (the request as it
    is) and ``base64`` (the encoding whose replies are decoded before grading), on all seed
    prompts; the refusal rule reads a reply's opening sentence.
    """
    args = ["redteam", "suites/redteam", "--strategy", "none", "--strategy", "base64", "--max-new-tokens", "16",
            "--base", "smollm2-135m", "--candidate", str(run_dir), "--grader-labels",
            "examples/redteam/refusal_labels.jsonl", "--out", str(out)]  # fmt: skip
    return _harness(*args, *(["--limit", str(limit)] if limit else []), ok=(0, 1, 3)).returncode


def main(argv: list[str] | None = None) -> int:
    """Run the demo; returns the gate's exit code (0 pass, 1 fail, 3 inconclusive)."""
    parser = argparse.ArgumentParser(prog="python -m harness.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("reports/demo"), help="where reports and the run go")
    parser.add_argument("--quick", action="store_true", help="reduced size: few steps and items (for tests)")
    opts = parser.parse_args(argv)
    # Every stage runs from the project root; paths under it are shown relative, as a user types them.
    os.chdir(ROOT)
    out = opts.out.resolve()
    out = out.relative_to(ROOT) if out.is_relative_to(ROOT) else out
    out.mkdir(parents=True, exist_ok=True)
    limit = 6 if opts.quick else None
    stages = _Stages()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    stages.start(1, "Validate the training data against the holdout suites")
    holdouts = [a for s in SUITES for a in ("--holdout", s)]
    raw = "examples/tickets_train.jsonl"
    _harness("validate", raw, *holdouts, "--out", str(out / "validation"), ok=(0, 1))
    doc = json.loads((out / "validation" / "validation.json").read_text())
    clean = out / "tickets_train.clean.jsonl"
    kept, dropped = clean_training_data(doc, ROOT / raw, clean)
    console.print(
        f"Dropped {dropped} example(s) named by error, exact-duplicate and personal-data findings; "
        f"{kept} remain in {clean}"
    )
    _harness("validate", str(clean), *holdouts, "--out", str(out / "validation-clean"))

    stages.start(2, "Check the raters, then the judge against the raters")
    bootstrap = "200" if opts.quick else "1000"
    agreement = ["examples/ratings.csv", "--level", "ordinal", "--by", "criterion", "--scale", "1-5"]
    _harness("agreement", *agreement, "--bootstrap", bootstrap, "--out", str(out / "agreement"), ok=(0, 1, 3))
    judge_calibration(out / "judge", limit=limit)

    stages.start(3, "LoRA-train SmolLM2-135M-Instruct on the cleaned data")
    run_dir = out / "run"
    _fresh_run_dir(run_dir)
    sets = ["--set", f"train_data={clean.resolve()}"]  # a relative path would resolve against the config's folder
    if opts.quick:
        sets += ["--set", "max_steps=2", "--set", "save_steps=2", "--set", "batch_size=2", "--set", "eval_data=null"]
    _harness("train", "examples/train_tickets.yaml", "--out", str(run_dir), *sets)

    stages.start(4, "Gate the candidate against the base")
    gate_args = ["gate", *SUITES, "--base", "smollm2-135m", "--candidate", str(run_dir), "--out", str(out)]
    gate_args += ["--junit", str(out / "junit.xml")]
    if limit:
        gate_args += ["--limit", str(limit)]
    rc = _harness(*gate_args, ok=(0, 1, 3)).returncode

    stages.start(5, "Red-team the candidate against the base")
    red_team(out / "redteam", run_dir, limit=limit)

    stages.start(6, "Reports")
    verdict = {0: "[bold green]PASS[/]", 1: "[bold red]FAIL[/]", 3: "[bold yellow]INCONCLUSIVE[/]"}[rc]
    console.print(stages.table())
    console.print(f"Verdict: {verdict} (exit code {rc}); took {stages.elapsed() / 60:.1f} min")
    console.print(f"HTML report: [bold]{out / 'report.html'}[/]")
    console.print(
        f"Also: {out / 'report.md'}, {out / 'comparison.json'}, {out / 'junit.xml'}, "
        f"{out / 'redteam' / 'redteam.html'}, model card {run_dir / 'model_card.md'}"
    )
    return rc


if __name__ == "__main__":
    code = main()
    # The demo succeeds whatever the verdict: it reports it. Only a broken stage exits non-zero.
    sys.exit(0 if code in (0, 1, 3) else code)
