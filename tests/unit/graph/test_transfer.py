"""The JSON recipe that hands an extractor to the graph worker (no pickle)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from graph.extract import transfer
from graph.extract.spacy_extractor import SpacyGraphExtractor, load_default_pipeline


class Settings:
    def __init__(self) -> None:
        self.root = Path("/tmp/models")
        self.limits = {"chars": 20_000, "pairs": (3, 4)}


class Holder:
    def __init__(self, inner: object) -> None:
        self.inner = inner


def test_the_spacy_extractor_travels_with_its_settings_and_loader_but_not_its_model() -> None:
    original = SpacyGraphExtractor(batch_size=7, max_cooccurring=5)
    data = transfer.encode(original)
    recipe = json.loads(data)
    assert recipe["$obj"] == "graph.extract.spacy_extractor:SpacyGraphExtractor"
    assert recipe["state"]["$dict"]["_loader"] == {
        "$ref": "graph.extract.spacy_extractor:load_default_pipeline"
    }
    copy = transfer.decode(data)
    assert type(copy) is SpacyGraphExtractor and copy is not original
    assert (copy.batch_size, copy.max_cooccurring, copy.max_chars_per_chunk) == (7, 5, 20_000)
    assert copy._loader is load_default_pipeline and copy._nlp is None


def test_nested_objects_paths_dicts_and_tuples_round_trip() -> None:
    copy = transfer.decode(transfer.encode(Holder(Settings())))
    assert isinstance(copy, Holder) and isinstance(copy.inner, Settings)
    assert copy.inner.root == Path("/tmp/models")
    assert copy.inner.limits == {"chars": 20_000, "pairs": [3, 4]}  # tuples arrive as lists


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (lambda: None, "not importable by name"),
        (Holder(lambda: None).__init__, "bound method"),
        ({1: "a"}, "keys that are not strings"),
        (Holder(open), None),  # a builtin function is named and travels
    ],
)
def test_what_cannot_be_named_is_refused_when_encoding(value: object, reason: str | None) -> None:
    if reason is None:
        assert transfer.decode(transfer.encode(value)).inner is open
        return
    with pytest.raises(transfer.TransferError, match=reason):
        transfer.encode(value)


def test_a_local_class_is_refused_by_name() -> None:
    class Local:
        pass

    with pytest.raises(transfer.TransferError, match="Local is not importable"):
        transfer.encode(Local())


def test_decoding_never_calls_a_named_function() -> None:
    recipe = json.dumps({"$ref": "os:_exit"}).encode()
    import os

    assert transfer.decode(recipe) is os._exit  # resolved, not called: this process is still here
    with pytest.raises(transfer.TransferError, match="is not a class"):
        transfer.decode(json.dumps({"$obj": "os:_exit", "state": None}).encode())
