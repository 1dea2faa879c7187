"""A generated corruption corpus: real PDFs truncated and bit-flipped at seeded offsets.

Plain truncations stop at the loader's %%EOF pre-check, so each is also written with a
``%%EOF`` appended, which sends it through pypdf's recovery. Every damaged file is parsed in the isolated worker (wall-clock and memory limits), so none can
crash or hang the ingest; each gets an outcome with a reason, the intact files beside them
ingest, and the index stays consistent.
"""

from __future__ import annotations

import random
import re
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SOURCES = (
    "001-trivial_minimal-document.pdf",
    "004-pdflatex-4-pages_pdflatex-4-pages.pdf",
    "011-google-doc-document_google-doc-document.pdf",
)
TRUNCATE_AT = (0.02, 0.25, 0.5, 0.75, 0.98)
FLIPS_PER_FILE = 5
PARSE_TIMEOUT_S = 20.0
# Reasons the loaders give on purpose; anything else would be an exception that escaped them.
KNOWN_REASON = re.compile(
    r"^(truncated PDF|not a PDF|unreadable PDF|PDF exceeds a parser safety limit|PDF structure nested|"
    r"no extractable text|no text found on|encrypted PDF|timed out after|exceeded memory cap|parser worker crashed)"
)


def make_corpus(folder: Path, samples: Path, seed: int = 11) -> dict[str, str]:
    """Write truncated and bit-flipped copies; returns file name -> how it was damaged."""
    rng = random.Random(seed)
    folder.mkdir()
    made: dict[str, str] = {}
    for source in SOURCES:
        data = (samples / source).read_bytes()
        stem = source.split("_")[0]
        for frac in TRUNCATE_AT:
            name = f"{stem}-trunc{int(frac * 100):02d}.pdf"
            (folder / name).write_bytes(data[: int(len(data) * frac)])
            made[name] = f"truncated to {int(len(data) * frac)} of {len(data)} bytes"
            name = f"{stem}-cut{int(frac * 100):02d}-eof.pdf"  # past the EOF pre-check, into pypdf
            (folder / name).write_bytes(data[: int(len(data) * frac)] + b"\n%%EOF\n")
            made[name] = f"cut at {int(len(data) * frac)} of {len(data)} bytes, %%EOF appended"
        for n in range(FLIPS_PER_FILE):
            flipped = bytearray(data)
            offsets = sorted(rng.randrange(len(data)) for _ in range(8))
            for offset in offsets:
                flipped[offset] ^= 1 << rng.randrange(8)
            name = f"{stem}-flip{n}.pdf"
            (folder / name).write_bytes(bytes(flipped))
            made[name] = f"8 bit flips at {offsets}"
    return made


def test_truncated_and_bit_flipped_pdfs(real_services: Any, tmp_path: Path, shared_data_dir: Path) -> None:
    folder = tmp_path / "docs"
    made = make_corpus(folder, shared_data_dir / "pdf-samples")
    (folder / "intact.md").write_text("The Skarvik tide tables were printed by Halvorsen & Sons.\n")
    for source in SOURCES[:1]:
        (folder / source).write_bytes((shared_data_dir / "pdf-samples" / source).read_bytes())
    service = real_services(ingest={"parse_timeout_s": PARSE_TIMEOUT_S, "parse_memory_mb": 768})
    t0 = time.monotonic()
    report = service.ingest([folder])
    elapsed = time.monotonic() - t0
    got = {Path(o.path).name: o for o in report.outcomes}
    assert set(got) == set(made) | {"intact.md", SOURCES[0]}
    assert got["intact.md"].status == "added" and got[SOURCES[0]].status == "added"
    for name in made:
        outcome = got[name]
        assert outcome.status in ("added", "failed"), (name, outcome)
        # The parse limit stops a hang: no file may take far longer than it (generous: embedding
        # and graph come on top on a loaded machine; a hang is unbounded).
        assert outcome.seconds < PARSE_TIMEOUT_S + 120, (name, outcome.seconds)
        if outcome.status == "failed":
            assert KNOWN_REASON.match(outcome.reason), (name, made[name], outcome.reason)
        else:
            assert outcome.chunks > 0 and outcome.pages and outcome.pages >= 1, (name, outcome)
    for frac in TRUNCATE_AT[:1]:  # 2% of a PDF holds no page at all
        for source in SOURCES:
            assert got[f"{source.split('_')[0]}-trunc{int(frac * 100):02d}.pdf"].status == "failed"
    assert service.doctor().consistent
    failed = sum(1 for n in made if got[n].status == "failed")
    print(
        f"CORRUPT-SUMMARY files={len(made)} failed={failed} added={len(made) - failed} seconds={elapsed:.1f}"
    )
    for name in sorted(made):
        print(f"CORRUPT {name} | {made[name][:40]} | {got[name].status} | {got[name].reason}")
