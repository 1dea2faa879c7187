"""OCR speed and accuracy, table extraction cost per page, and ingest time with tables on vs off.

    python -m bench.formats                       # OCR of the scanned sample PDF + 5 sec10q filings
    python -m bench.formats --filings 20          # all 20 sec10q filings (slow on a busy machine)

- OCR: the sample corpus PDF made image-only by ``scripts/make_scanned_pdf.py``, read by the PDF
  loader (OCR on every page); pages/s of OCR itself, and word accuracy against the original's
  text layer (the same measure as tests/integration/test_ocr_scanned.py).
- Tables: each filing parsed twice in the same run, tables off then on (OCR off: these are
  born-digital); the pre-check's cost over every page, the table finder's cost per page it ran
  on, and how many pages it ran on and found tables on.
- Ingest: the same filings ingested through the service into two fresh indexes (graph off),
  tables off then on: wall time and chunks embedded.
"""

from __future__ import annotations

import argparse
import difflib
import importlib.util
import json
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import REPO, shared_data, write_result

_WORD = re.compile(r"\w+")
# One filing per company, then the rest in name order (a stable subset for --filings N).
_FIRST = ("2022 Q3 AAPL.pdf", "2022 Q3 AMZN.pdf", "2022 Q3 INTC.pdf", "2022 Q3 MSFT.pdf", "2022 Q3 NVDA.pdf")


def word_accuracy(reference: str, recognised: str) -> float:
    ref = _WORD.findall(reference.casefold())
    got = _WORD.findall(recognised.casefold())
    matcher = difflib.SequenceMatcher(a=ref, b=got, autojunk=False)
    return sum(b.size for b in matcher.get_matching_blocks()) / max(len(ref), 1)


def bench_ocr(workdir: Path) -> dict[str, Any]:
    """OCR every page of the scanned sample PDF with the loader's own OCR step; time and accuracy."""
    from ingest.loaders import load_document
    from ingest.normalize import normalize_text
    from ingest.ocr import PageOcr

    spec = importlib.util.spec_from_file_location(
        "make_scanned_pdf", REPO / "scripts" / "make_scanned_pdf.py"
    )
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    original = REPO / "data" / "corpus" / "skarvik_history.pdf"
    scan = workdir / "scan.pdf"
    pages = script.make_scanned(original, scan)
    typed = load_document(original)
    with PageOcr(scan, max_pages=pages, timeout_s=3600) as ocr:
        texts = [normalize_text(ocr.page(n) or "") for n in range(1, pages + 1)]
        seconds = ocr.result.seconds
    return {
        "document": "data/corpus/skarvik_history.pdf rendered image-only at 200 dpi",
        "pages": pages,
        "ocr_s": round(seconds, 2),
        "pages_per_s": round(pages / seconds, 3),
        "word_accuracy_per_page": [round(word_accuracy(a.text, t), 4) for a, t in zip(typed.blocks, texts)],
        "word_accuracy": round(word_accuracy(typed.text, "\n\n".join(texts)), 4),
    }


def _filings(n: int) -> list[Path]:
    docs = shared_data() / "sec10q" / "docs"
    rest = sorted(p.name for p in docs.glob("*.pdf") if p.name not in _FIRST)
    return [docs / name for name in [*_FIRST, *rest][:n]]


def bench_tables(filings: list[Path]) -> dict[str, Any]:
    """Parse each filing with tables off, then on; attribute the difference to the table finder."""
    import pypdf

    from ingest.base import ExtractOptions
    from ingest.loaders import load_document
    from ingest.tables import looks_tabular

    rows = []
    for path in filings:
        t0 = time.perf_counter()
        off = load_document(path, options=ExtractOptions(ocr=False, tables=False))
        off_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        on = load_document(path, options=ExtractOptions(ocr=False, tables=True, tables_timeout_s=3600))
        on_s = time.perf_counter() - t0
        texts = [page.extract_text() or "" for page in pypdf.PdfReader(path).pages]
        t0 = time.perf_counter()
        tabular = sum(1 for t in texts if looks_tabular(t))
        check_s = time.perf_counter() - t0
        rows.append(
            {
                "file": path.name,
                "pages": off.pages,
                "tabular_pages": tabular,
                "pages_with_tables": len({b.page for b in on.blocks if b.kind == "table"}),
                "tables": sum(1 for b in on.blocks if b.kind == "table"),
                "parse_off_s": round(off_s, 2),
                "parse_on_s": round(on_s, 2),
                "precheck_s": round(check_s, 5),
            }
        )
        print(json.dumps(rows[-1]), file=sys.stderr)
    pages = sum(r["pages"] for r in rows)
    tabular = sum(r["tabular_pages"] for r in rows)
    extra = sum(r["parse_on_s"] - r["parse_off_s"] for r in rows)
    return {
        "filings": rows,
        "pages": pages,
        "tabular_pages": tabular,
        "pages_with_tables": sum(r["pages_with_tables"] for r in rows),
        "parse_off_s": round(sum(r["parse_off_s"] for r in rows), 2),
        "parse_on_s": round(sum(r["parse_on_s"] for r in rows), 2),
        "table_s_per_tabular_page": round(extra / max(tabular, 1), 3),
        "table_s_per_page_overall": round(extra / max(pages, 1), 3),
        "precheck_ms_per_page": round(1000 * sum(r["precheck_s"] for r in rows) / max(pages, 1), 4),
    }


def bench_ingest(filings: list[Path], workdir: Path) -> dict[str, Any]:
    """Ingest the filings into two fresh indexes, tables off then on (graph off, same process)."""
    import shutil

    from app.service import Citewise

    docs = workdir / "docs"
    docs.mkdir()
    for path in filings:
        shutil.copy(path, docs / path.name)
    out: dict[str, Any] = {}
    embedder = None
    for label, tables in (("tables_off", False), ("tables_on", True)):
        service = Citewise.open(
            workdir / f"index-{label}",
            cache_dir=workdir / "cache",
            graph={"enabled": False},
            ingest={"tables": tables},
        )
        if embedder is not None:
            service.__dict__["embedder"] = embedder
        else:
            embedder = service.embedder
            embedder.embed(["warm up"])
        t0 = time.perf_counter()
        report = service.ingest([docs])
        out[label] = {
            "wall_s": round(time.perf_counter() - t0, 2),
            "chunks": report.embedded,
            "failed": [o.reason for o in report.failed],
            "timings_s": {k: round(v, 2) for k, v in report.timings.items()},
        }
        service.close()
    return out


def markdown(result: dict[str, Any]) -> str:
    """The report section: OCR, table cost, ingest on vs off."""
    ocr, tab, ing = result["ocr"], result["tables"], result.get("ingest")
    lines = [
        "| OCR (Tesseract 5, 300 dpi render) | value |",
        "|---|---|",
        f"| document | {ocr['document']} ({ocr['pages']} pages) |",
        f"| OCR time | {ocr['ocr_s']} s: **{ocr['pages_per_s']} pages/s** |",
        f"| word accuracy vs the text layer | **{ocr['word_accuracy']:.1%}** (per page: "
        + ", ".join(f"{a:.1%}" for a in ocr["word_accuracy_per_page"])
        + ") |",
        "",
        f"Tables on {len(tab['filings'])} sec10q filings ({tab['pages']} pages), each parsed tables off then on:",
        "",
        "| measure | value |",
        "|---|---|",
        f"| pages the pre-check sent to the table finder | {tab['tabular_pages']} of {tab['pages']} |",
        f"| pages where tables were kept | {tab['pages_with_tables']} |",
        f"| pre-check cost | {tab['precheck_ms_per_page']} ms/page |",
        f"| table finder cost | **{tab['table_s_per_tabular_page']} s per tabular page** "
        f"({tab['table_s_per_page_overall']} s per page over all pages) |",
        f"| parse time, tables off / on | {tab['parse_off_s']} s / {tab['parse_on_s']} s |",
    ]
    if ing:
        off, on = ing["tables_off"], ing["tables_on"]
        lines += [
            "",
            "| ingest (same filings, graph off) | wall s | chunks embedded |",
            "|---|---|---|",
            f"| tables off | {off['wall_s']} | {off['chunks']} |",
            f"| tables on | {on['wall_s']} | {on['chunks']} |",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--filings", type=int, default=5, help="sec10q filings to use (of 20)")
    parser.add_argument("--no-ingest", action="store_true", help="skip the ingest on/off comparison")
    args = parser.parse_args(argv)
    filings = _filings(args.filings)
    with tempfile.TemporaryDirectory(prefix="citewise-bench-formats-") as tmp:
        work = Path(tmp)
        result: dict[str, Any] = {"ocr": bench_ocr(work)}
        print(json.dumps(result["ocr"]), file=sys.stderr)
        result["tables"] = bench_tables(filings)
        if not args.no_ingest:
            result["ingest"] = bench_ingest(filings, work)
    path = write_result("formats", result, "python -m bench.formats " + " ".join(sys.argv[1:]))
    print(path)


if __name__ == "__main__":
    main()
