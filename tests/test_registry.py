"""The one plug-in registry: decorator, recorded arguments, did-you-mean on a miss, listing; every kind on it."""

from __future__ import annotations

import sys
import typing

import pytest

from harness.errors import ConfigError, InputError, RegistryError
from harness.registry import Registry, kinds, registry


def test_decorator_records_arguments_and_summary():
    reg: Registry[object] = Registry("test-widgets", noun="widget")

    @reg.register("round", sides=0, colour="red")
    def round_widget() -> None:
        """A widget without corners.

        More text that is not the summary.
        """

    @reg.register("square", summary="four equal sides")
    class Square:
        pass

    assert reg.get("round") is round_widget and reg.get("square") is Square
    entry = reg.entry("round")
    assert (entry.kind, entry.name, entry.summary) == ("test-widgets", "round", "A widget without corners.")
    assert entry.recorded == {"sides": 0, "colour": "red"}
    assert reg.entry("square").summary == "four equal sides" and reg.entry("square").recorded == {}
    assert reg.names() == ["round", "square"] and list(reg) == ["round", "square"]
    assert [e.name for e in reg.entries()] == ["round", "square"]
    assert "round" in reg and "triangle" not in reg


def test_a_miss_names_the_known_and_the_closest_and_never_returns_none():
    reg: Registry[object] = Registry("test-gadgets", noun="gadget")
    reg.register("sigmoid")(object())
    reg.register("softmax")(object())
    msg = r"unknown gadget 'sigmod'; known: sigmoid, softmax\. Did you mean 'sigmoid'\?"
    with pytest.raises(RegistryError, match=msg):
        reg.get("sigmod")
    with pytest.raises(RegistryError, match=r"unknown gadget 'zzz'; known: sigmoid, softmax\.$"):
        reg.entry("zzz")


def test_a_name_cannot_be_taken_twice_by_different_objects():
    reg: Registry[object] = Registry("test-things")
    thing = object()
    reg.register("a")(thing)
    reg.register("a")(thing)  # the same object again (a module imported twice) is fine
    with pytest.raises(RegistryError, match="already registered"):
        reg.register("a")(object())


def test_builtins_are_imported_on_first_use_only(monkeypatch):
    module = "tests_registry_builtin_widgets"
    reg: Registry[object] = Registry("test-lazy", builtins=(module,))
    imported: list[str] = []

    class Finder:
        def find_spec(self, name, path=None, target=None):
            if name != module:
                return None
            import importlib.machinery

            class Loader:
                def create_module(self, spec):
                    return None

                def exec_module(self, mod):
                    imported.append(name)
                    reg.register("built-in")(object())

            return importlib.machinery.ModuleSpec(name, Loader())

    monkeypatch.setattr(sys, "meta_path", [Finder(), *sys.meta_path])
    assert imported == []
    assert reg.names() == ["built-in"] and imported == [module]
    reg.names()
    assert imported == [module]


EXPECTED = {
    "scorers": {
        "exact", "contains", "regex", "numeric", "choice", "switch", "length", "chrf", "refusal",
        "json_valid", "json_schema", "json_field", "similarity", "judge", "human",
    },
    "models": {"hf", "gguf", "adapter", "run", "openai", "outputs"},
    "checks": {
        "schema.duplicate_id", "schema.empty_field", "duplicates.exact", "duplicates.near", "chat", "pii",
        "preference", "length", "leakage",
    },
    "leakage": {"exact", "ngram", "near_duplicate", "paraphrase"},
    "losses": {"sigmoid", "cdpo", "ipo"},
    "strategies": {"base64", "rot13", "roleplay", "crescendo", "pair"},
    "rewards": {"reward_model", "scorer"},
}


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_every_plugin_kind_lives_on_the_one_registry(kind):
    reg = registry(kind)
    assert isinstance(reg, Registry) and reg.kind == kind
    assert EXPECTED[kind] <= set(reg.names())  # tests may register more
    assert all(reg.entry(n).summary for n in EXPECTED[kind]), "every built-in plug-in says what it is"


def test_kinds_and_a_miss_on_a_kind():
    assert set(EXPECTED) <= set(kinds())
    with pytest.raises(RegistryError, match="Did you mean 'scorers'"):
        registry("scorer")


def test_model_kinds_are_the_kinds_a_spec_parses_to():
    from harness.models.spec import SpecKind

    assert set(registry("models").names()) == set(typing.get_args(SpecKind))


def test_scorer_registration_records_its_options_as_a_rubric_spells_them():
    from harness.eval.scorers import SCORERS, get_scorer_class

    assert get_scorer_class("contains").name == "contains"
    assert "value" in SCORERS.entry("contains").recorded["options"]
    assert "schema" in SCORERS.entry("json_schema").recorded["options"]  # the alias, not the field name
    with pytest.raises(RegistryError, match=r"unknown scorer 'contain'.*Did you mean 'contains'"):
        get_scorer_class("contain")


def test_default_checks_come_from_the_registry_in_finding_order():
    from harness.validate import DEFAULT_CHECKS, default_checks

    assert [c.name for c in default_checks()] == list(DEFAULT_CHECKS)
    lengths = default_checks(max_length=7, unit="chars", count=len)[-1]
    assert (lengths.name, lengths.max_length, lengths.unit, lengths.count) == ("length", 7, "chars", len)


def test_leakage_methods_rank_and_statuses_in_the_words_of_the_documents():
    from harness.leakage import make_options
    from harness.leakage.methods import method_names, method_statuses

    assert method_names() == ("exact", "ngram", "near_duplicate", "paraphrase")
    opts = make_options()
    statuses = method_statuses(opts.methods, opts.model_dump(), {"embed": (False, "off (turned off: x)")})
    assert {m: s.text for m, s in statuses.items()} == {
        "exact": "on",
        "ngram": "on (word 13-grams)",
        "near_duplicate": "on (MinHash, word 2-gram shingles, 128 values, 42 bands x 3 rows, Jaccard >= 0.4)",
        "paraphrase": "off (turned off: x)",
    }
    assert [m for m, s in statuses.items() if s.ran] == ["exact", "ngram", "near_duplicate"]
    with pytest.raises(InputError, match=r"unknown leakage method 'ngrams'.*Did you mean 'ngram'"):
        make_options(methods=("exact", "ngrams"))


def test_train_config_checks_the_dpo_loss_against_the_registry(tmp_path):
    from harness.train.config import load_config

    (tmp_path / "t.jsonl").write_text('{"prompt": "a", "completion": "b"}\n')
    (tmp_path / "c.yaml").write_text("base_model: m\ntrain_data: t.jsonl\nmethod: dpo\ndpo: {loss: ipoo}\n")
    with pytest.raises(ConfigError, match=r"unknown DPO loss 'ipoo'.*Did you mean 'ipo'"):
        load_config(tmp_path / "c.yaml")


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_each_kind_is_created_by_the_home_module_the_registry_names(kind):
    import importlib

    from harness.registry import _HOMES

    module = importlib.import_module(_HOMES[kind])
    assert [v for v in vars(module).values() if isinstance(v, Registry) and v.kind == kind] == [registry(kind)]
