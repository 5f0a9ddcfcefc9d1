"""The model card of a run (Markdown): what data, which checks, what results, how to reproduce."""

from __future__ import annotations

from typing import Any

from harness.text import md_escape
from harness.train.config import TrainConfig
from harness.train.preflight import Preflight


def _num(value: Any, digits: int = 4) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _weights(cfg: TrainConfig) -> str:
    return "LoRA adapter" if cfg.adapter == "lora" else "QLoRA adapter" if cfg.adapter == "qlora" else "full weights"


def _title(manifest: dict[str, Any], cfg: TrainConfig) -> list[str]:
    weights = _weights(cfg)
    return [
        f"# Model card: {cfg.method.upper()} ({weights}) of `{manifest['base_model']}`",
        "",
        f"Trained by `harness train` on {manifest['finished']}. The run folder holds the "
        f"{weights} in `{manifest['weights']}/`, the tokenizer and chat template used in training, "
        "the resolved `config.yaml`, `validation.json`, `train_log.jsonl` and `loss.png`. "
        "Give the run folder as a model spec to `harness eval` or `harness gate`.",
    ]


def _data_section(manifest: dict[str, Any], cfg: TrainConfig) -> list[str]:
    """The training files with their hashes, what was kept, the eval split and the chat template."""
    data = manifest["data"]
    out = ["## Data", "", "| file | blake2b-128 |", "| --- | --- |"]
    for path, digest in manifest["train_data_hashes"].items():
        out.append(f"| `{md_escape(path, 200)}` | `{digest}` |")
    out += [
        "",
        f"- {data['n_records']} records read; {data['n_kept']} trained on; {data['n_truncated']} truncated to "
        f"{cfg.max_length} tokens; **{data['n_dropped']} dropped** (no trained token left after truncation)"
        + (f": {', '.join(data['dropped_ids'][:10])}" if data["dropped_ids"] else "")
        + ".",
        f"- {data['n_trained_tokens']} trained tokens of {data['n_tokens']} "
        f"({'completion / assistant tokens only' if cfg.completion_only_loss else 'every token'}).",
        f"- Eval split: `{manifest['eval_data']}`." if manifest["eval_data"] else "- No eval split.",
        f"- Chat template: {manifest['chat_template']['source']} (saved as `chat_template.jinja`, "
        f"hash `{manifest['chat_template']['hash']}`); the same template formats prompts in evaluation.",
    ]
    return out


def _checks_section(manifest: dict[str, Any], preflight: Preflight) -> list[str]:
    """What preflight found, the holdouts checked for leakage, and the findings trained despite."""
    pf = manifest["preflight"]
    out = [
        "## Checks before training",
        "",
        "`harness validate` ran on the training data"
        + (f" against {len(preflight.holdouts)} holdout suite(s)" if preflight.leakage_checked else "")
        + f": {pf['counts']['error']} errors, {pf['counts']['warning']} warnings, {pf['counts']['info']} notes "
        f"(blocking at {pf['fail_on']}: {pf['blocking']}).",
    ]
    if preflight.leakage_checked:
        out += ["", "Holdout suites checked for leakage:", *[f"- `{h}`" for h in preflight.holdouts]]
    else:
        out += ["", "**No holdout suites were configured: leakage into evaluation data was not checked.**"]
    if pf["allowed_findings"]:
        out += [
            "",
            f"**Trained despite {pf['blocking']} blocking finding(s) (`--allow-findings`)**; "
            f"{pf['rows_skipped']} unreadable row(s) skipped. See `validation.json`.",
        ]
    blocking = [f for r in preflight.reports for f in r.blocking(preflight.fail_on)]
    if blocking:
        out += ["", "| check | severity | ids | message |", "| --- | --- | --- | --- |"]
        for f in blocking[:20]:
            out.append(
                f"| `{f.check}` | {f.severity} | {md_escape(', '.join(f.ids[:5]), 60)} | {md_escape(f.message, 200)} |"
            )
    return out


def _method_row(cfg: TrainConfig) -> str:
    if cfg.method == "dpo":
        detail = f" (loss `{cfg.dpo.loss}`, β={cfg.dpo.beta})"
    elif cfg.method == "reward":
        detail = (
            f" (Bradley-Terry on a scalar head; margin {'on' if cfg.reward.use_margin else 'off'}, "
            f"centring {cfg.reward.center_rewards_coefficient or 'off'})"
        )
    else:
        detail = ""
    return f"| method | {cfg.method}{detail} |"


def _training_section(manifest: dict[str, Any], cfg: TrainConfig) -> list[str]:
    """The settings table: method, adapter, steps, learning rate, batch, length, seed, time."""
    res = manifest["results"]
    lora = f" (r={cfg.lora.r}, alpha={cfg.lora.alpha}, dropout={cfg.lora.dropout})" if cfg.adapter != "full" else ""
    return [
        "## Training",
        "",
        "| setting | value |",
        "| --- | --- |",
        _method_row(cfg),
        f"| adapter | {cfg.adapter}{lora} |",
        f"| steps / epochs | {res['global_step']} / {_num(res['epochs'], 2)} |",
        f"| learning rate | {cfg.learning_rate} ({cfg.lr_scheduler}, warmup {cfg.warmup}) |",
        f"| batch | {cfg.batch_size} × {cfg.gradient_accumulation_steps} accumulation × "
        f"{manifest['world_size']} process(es) |",
        f"| max length | {cfg.max_length} |",
        f"| seed | {cfg.seed} |",
        f"| time | {_num(res['train_seconds'], 1)} s on {manifest['device']}; "
        f"{_num(res['trained_tokens_per_second'], 1)} trained tokens/s |",
    ]


def _reward_lines(res: dict[str, Any]) -> list[str]:
    """The last logged rewards of a DPO run, or the pair accuracy of a reward-model run."""
    out = []
    if res.get("dpo"):
        d = res["dpo"]
        out.append(
            "- Last logged rewards: accuracy "
            f"{_num(d.get('rewards/accuracies'), 3)}, margin {_num(d.get('rewards/margins'))}"
            + (
                f"; eval accuracy {_num(d.get('eval_rewards/accuracies'), 3)}, "
                f"margin {_num(d.get('eval_rewards/margins'))}"
                if "eval_rewards/accuracies" in d
                else ""
            )
            + "."
        )
    if res.get("reward"):
        d = res["reward"]
        out.append(
            f"- Last logged pair accuracy {_num(d.get('rewards/accuracy'), 3)}, margin {_num(d.get('rewards/margin'))}"
            + (f"; eval accuracy {_num(d.get('eval_rewards/accuracy'), 3)}" if "eval_rewards/accuracy" in d else "")
            + ". Held-out accuracy with an interval, by category and calibration: `harness rm-eval`."
        )
    return out


def _results_section(manifest: dict[str, Any], cfg: TrainConfig) -> list[str]:
    """Training and eval loss, the last logged rewards, the rankings converted to pairs."""
    res = manifest["results"]
    loss_kind = {"sft": " (mean over eval batches of the token-mean NLL).", "dpo": " (DPO loss)."}.get(
        cfg.method, " (Bradley-Terry loss)."
    )
    out = [
        "## Results",
        "",
        f"- Training loss: mean {_num(res['train_loss'])}, last logged {_num(res['final_train_loss'])}.",
        (
            f"- Eval loss on the eval split: {_num(res['eval_loss'])}{loss_kind}"
            if manifest["eval_data"]
            else "- No eval split configured: no eval loss."
        ),
        *_reward_lines(res),
    ]
    for conv in manifest.get("pairs_from_rankings") or []:
        out.append(
            f"- Pairs from rankings `{md_escape(str(conv['file']), 120)}`: scheme `{conv['scheme']}`, ties "
            f"`{conv['ties']}`: {conv['n_rankings']} rankings → {conv['n_pairs']} pairs "
            f"({conv['tied_pairs_dropped']} tied pairs dropped, {conv['tied_pairs_kept']} kept with margin 0)."
        )
    out += [
        "",
        "These are training-time losses, not quality: compare this run with its base on holdout suites with "
        "`harness eval` / `harness gate` before shipping.",
    ]
    return out


def _reproduce_section(manifest: dict[str, Any]) -> list[str]:
    return [
        "## Reproduce",
        "",
        f"- Command: `{manifest.get('command') or 'harness train config.yaml'}`",
        f"- Config hash `{manifest['config_hash']}`; git commit `{manifest['git']['commit']}`"
        + (" (with uncommitted changes)" if manifest["git"]["dirty"] else ""),
        "- Versions: " + ", ".join(f"{k} {v}" for k, v in manifest["versions"].items() if v),
    ]


def render_card(manifest: dict[str, Any], cfg: TrainConfig, preflight: Preflight) -> str:
    """Render the model card of a finished run from its manifest, config and preflight."""
    sections = [
        _title(manifest, cfg),
        _data_section(manifest, cfg),
        _checks_section(manifest, preflight),
        _training_section(manifest, cfg),
        _results_section(manifest, cfg),
        _reproduce_section(manifest),
    ]
    return "\n\n".join("\n".join(lines) for lines in sections) + "\n"
