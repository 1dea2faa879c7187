"""Knowledge-graph extraction quality and speed on Re-DocRED (dev_revised.json).

Measures, in one run:
- entity recall: gold entity clusters (PER/ORG/LOC/MISC; TIME and NUM are not nodes for us) of
  which some mention's normalized surface equals the name or an alias of one of our entities,
  and the same per gold mention;
- untyped, unordered entity-pair precision / recall / F1 of our extracted relations against the
  gold relation pairs, next to two baselines: every pair of *our* entities that co-occur in a
  sentence (our ``cooccurs`` edges), and every pair of *gold* entities that co-occur in a sentence;
- extraction throughput in chunks/s (chunks of about 120 words, like child chunks).

With ``--llm-docs N`` the optional LLM refinement (``graph.llm_extraction``) also runs, with the
configured GGUF model (the bundled Gemma 3 270M by default), on the first N documents: its chunks/s
and the pair precision / recall of the relations it adds, next to the parse relations on the same
documents.

Usage: ``python -m bench.graph_eval [PATH] [--limit N] [--llm-docs N]`` (PATH defaults to
``$CITEWISE_SHARED_DATA/re-docred/dev_revised.json``). Writes ``bench/results/graph_eval.json``
and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

from bench.common import shared_data, write_result
from graph.base import DocumentGraph
from graph.extract.normalize import clean_surface, name_key
from graph.extract.spacy_extractor import SpacyGraphExtractor

GOLD_TYPES = {"PER", "ORG", "LOC", "MISC"}
CHUNK_WORDS = 120
Pair = frozenset[Any]


@dataclass(frozen=True)
class Unit:
    id: str
    doc_id: str
    text: str
    page_start: int | None = None


def detokenize(tokens: list[str]) -> str:
    """Join Re-DocRED tokens into readable text (no space before , . ) etc., none after ( )."""
    text = " ".join(tokens)
    text = re.sub(r" ([,.;:!?)\]'%])", r"\1", text)
    text = re.sub(r"([(\[$]) ", r"\1", text)
    return text.replace(" n't", "n't").replace(" 's", "'s")


def chunk_doc(idx: int, doc: dict[str, Any]) -> list[Unit]:
    """Consecutive sentences grouped into chunks of about ``CHUNK_WORDS`` words."""
    units: list[Unit] = []
    buf: list[str] = []
    words = 0
    for sent in doc["sents"]:
        buf.append(detokenize(sent))
        words += len(sent)
        if words >= CHUNK_WORDS:
            units.append(Unit(f"{idx}:{len(units)}", str(idx), " ".join(buf), len(units) + 1))
            buf, words = [], 0
    if buf:
        units.append(Unit(f"{idx}:{len(units)}", str(idx), " ".join(buf), len(units) + 1))
    return units


def gold_keys(doc: dict[str, Any]) -> tuple[list[set[str]], list[int]]:
    """Per gold entity: the keys of its mentions (empty set for TIME/NUM); and the kept indices."""
    keys, kept = [], []
    for i, cluster in enumerate(doc["vertexSet"]):
        if cluster[0]["type"] in GOLD_TYPES:
            kept.append(i)
            keys.append(
                {name_key(clean_surface(m["name"], "PERSON" if m["type"] == "PER" else "")) for m in cluster}
            )
        else:
            keys.append(set())
    return keys, kept


def _to_gold(graph: DocumentGraph, keys: list[set[str]]) -> dict[str, set[int]]:
    """Our entity id -> the gold clusters whose mention keys meet its name or alias keys."""
    by_key: dict[str, set[int]] = defaultdict(set)
    for i, ks in enumerate(keys):
        for k in ks:
            by_key[k].add(i)
    out: dict[str, set[int]] = {}
    for e in graph.entities:
        ours = {name_key(n) for n in (e.name, *e.aliases)}
        out[e.id] = set().union(*(by_key.get(k, set()) for k in ours))
    return out


def _pairs(graph: DocumentGraph, kind: str, to_gold: dict[str, set[int]]) -> set[Pair]:
    """Unordered pairs of one relation kind, endpoints as gold clusters when matched, else our ids."""
    pairs: set[Pair] = set()
    for r in graph.relations:
        if r.kind != kind:
            continue
        a = to_gold.get(r.source_id) or {r.source_id}
        b = to_gold.get(r.target_id) or {r.target_id}
        for x in a:
            for y in b:
                if x != y:
                    pairs.add(frozenset((x, y)))
    return pairs


def gold_cooccurring(doc: dict[str, Any], kept: list[int]) -> set[Pair]:
    by_sent: dict[int, set[int]] = defaultdict(set)
    for i in kept:
        for m in doc["vertexSet"][i]:
            by_sent[m["sent_id"]].add(i)
    return {frozenset(p) for ents in by_sent.values() for p in combinations(sorted(ents), 2)}


def prf(tp: int, n_pred: int, n_gold: int) -> dict[str, float]:
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0, "predicted": n_pred}


def evaluate(docs: list[dict[str, Any]], extractor: SpacyGraphExtractor) -> dict[str, Any]:
    """Run extraction on every document and score it; returns the metrics."""
    counts: dict[str, int] = defaultdict(int)
    seconds = cpu_seconds = 0.0
    n_chunks = 0
    for idx, doc in enumerate(docs):
        units = chunk_doc(idx, doc)
        start, cpu_start = time.perf_counter(), time.process_time()
        graph = extractor.extract(str(idx), units)
        seconds += time.perf_counter() - start
        cpu_seconds += time.process_time() - cpu_start
        n_chunks += len(units)
        keys, kept = gold_keys(doc)
        to_gold = _to_gold(graph, keys)
        found = set().union(*to_gold.values()) if to_gold else set()
        counts["gold_entities"] += len(kept)
        counts["found_entities"] += len(found & set(kept))
        ours = {name_key(n) for e in graph.entities for n in (e.name, *e.aliases)}
        for i in kept:
            for m in doc["vertexSet"][i]:
                counts["gold_mentions"] += 1
                counts["found_mentions"] += name_key(clean_surface(m["name"])) in ours
        gold = {frozenset((lab["h"], lab["t"])) for lab in doc["labels"] if lab["h"] != lab["t"]}
        counts["gold_pairs"] += len(gold)
        for name, pred in (
            ("extracted", _pairs(graph, "extracted", to_gold)),
            ("cooccur_ours", _pairs(graph, "cooccurs", to_gold)),
            ("cooccur_gold", gold_cooccurring(doc, kept)),
        ):
            counts[f"{name}_pred"] += len(pred)
            counts[f"{name}_tp"] += len(pred & gold)
    return {
        "documents": len(docs),
        "chunks": n_chunks,
        "chunks_per_s": n_chunks / seconds if seconds else 0.0,
        "chunks_per_cpu_s": n_chunks / cpu_seconds if cpu_seconds else 0.0,
        "entity_recall": counts["found_entities"] / max(1, counts["gold_entities"]),
        "mention_recall": counts["found_mentions"] / max(1, counts["gold_mentions"]),
        "gold_entities": counts["gold_entities"],
        "gold_pairs": counts["gold_pairs"],
        "pairs": {
            name: prf(counts[f"{name}_tp"], counts[f"{name}_pred"], counts["gold_pairs"])
            for name in ("extracted", "cooccur_ours", "cooccur_gold")
        },
    }


def evaluate_llm(docs: list[dict[str, Any]], extractor: SpacyGraphExtractor, refiner: Any) -> dict[str, Any]:
    """LLM refinement on top of spaCy for ``docs``: time per chunk and the pairs it adds."""
    counts: dict[str, int] = defaultdict(int)
    seconds, n_chunks = 0.0, 0
    for idx, doc in enumerate(docs):
        units = chunk_doc(idx, doc)
        base = extractor.extract(str(idx), units)
        refiner.reset_budget()
        start = time.perf_counter()
        graph = refiner.refine(base, units)
        seconds += time.perf_counter() - start
        n_chunks += len(units)
        counts["failed"] += refiner.failed
        keys, _ = gold_keys(doc)
        to_gold = _to_gold(graph, keys)
        gold = {frozenset((lab["h"], lab["t"])) for lab in doc["labels"] if lab["h"] != lab["t"]}
        counts["gold_pairs"] += len(gold)
        for name, kind in (("llm", "llm"), ("extracted", "extracted")):
            pred = _pairs(graph, kind, to_gold)
            counts[f"{name}_pred"] += len(pred)
            counts[f"{name}_tp"] += len(pred & gold)
        counts["llm_relations"] += sum(1 for r in graph.relations if r.kind == "llm")
    return {
        "documents": len(docs),
        "chunks": n_chunks,
        "seconds": round(seconds, 2),
        "chunks_per_s": n_chunks / seconds if seconds else 0.0,
        "failed_chunks": counts["failed"],
        "llm_relations": counts["llm_relations"],
        "gold_pairs": counts["gold_pairs"],
        "pairs": {
            name: prf(counts[f"{name}_tp"], counts[f"{name}_pred"], counts["gold_pairs"])
            for name in ("llm", "extracted")
        },
    }


def markdown(result: dict[str, Any]) -> str:
    labels = {
        "extracted": "ours: dependency-parse relations",
        "cooccur_ours": "baseline: our entities co-occurring in a sentence",
        "cooccur_gold": "baseline: gold entities co-occurring in a sentence",
    }
    lines = [
        f"Re-DocRED dev, {result['documents']} documents, {result['chunks']} chunks, "
        f"extraction {result['chunks_per_s']:.1f} chunks/s wall, {result['chunks_per_cpu_s']:.1f} per CPU second",
        "",
        f"Entity recall (gold PER/ORG/LOC/MISC clusters): {result['entity_recall']:.3f}; "
        f"mention recall: {result['mention_recall']:.3f}",
        "",
        "| relation pairs (untyped, unordered) | predicted | precision | recall | F1 |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, label in labels.items():
        m = result["pairs"][name]
        lines.append(
            f"| {label} | {m['predicted']} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} |"
        )
    llm = result.get("llm")
    if llm:
        lines += [
            "",
            f"LLM refinement ({llm['model']}) on the first {llm['documents']} documents, {llm['chunks']} chunks: "
            f"{llm['chunks_per_s']:.2f} chunks/s ({llm['seconds']} s), {llm['llm_relations']} relations added, "
            f"{llm['failed_chunks']} chunks failed.",
            "",
            "| relation pairs on those documents | predicted | precision | recall | F1 |",
            "|---|---:|---:|---:|---:|",
        ]
        for name, label in (("llm", "LLM-proposed relations"), ("extracted", "dependency-parse relations")):
            m = llm["pairs"][name]
            lines.append(
                f"| {label} | {m['predicted']} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path, default=None, help="dev_revised.json")
    parser.add_argument("--limit", type=int, default=None, help="Evaluate the first N documents only.")
    parser.add_argument(
        "--llm-docs", type=int, default=0, help="Also run the LLM refinement on the first N documents."
    )
    args = parser.parse_args(argv)
    path = args.path or shared_data() / "re-docred" / "dev_revised.json"
    if not path.is_file():
        print(f"no Re-DocRED file at {path}: pass PATH or set CITEWISE_SHARED_DATA", file=sys.stderr)
        return 2
    docs = json.loads(path.read_text(encoding="utf-8"))[: args.limit]
    extractor = SpacyGraphExtractor()
    extractor.extract("warmup", [Unit("w", "w", "Marie Curie was born in Warsaw.")])
    result = evaluate(docs, extractor)
    if args.llm_docs:
        from app.container import build_llm
        from app.settings import Settings
        from graph.extract.llm_extractor import LLMGraphRefiner
        from retrieval.llm import make_json_completer

        settings = Settings()
        refiner = LLMGraphRefiner(make_json_completer(build_llm(settings)), budget_chunks=10**9)
        result["llm"] = evaluate_llm(docs[: args.llm_docs], extractor, refiner)
        result["llm"]["model"] = str(settings.llm.model_path or "bundled Gemma 3 270M Q4_K_M")
    out = write_result(
        "graph_eval", result, " ".join(["python -m bench.graph_eval", *(argv or sys.argv[1:])])
    )
    print(markdown(result))
    print(f"\nwritten to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
