"""Every 10-Q in ``sec10q/docs`` loads through the isolated parser with its page count and title,
and two of them go all the way through the service (real MiniLM embedder).

Most of these filings are encrypted with an empty user password (opened, with a warning); the
MSFT ones carry structure-tree arrays beyond pypdf's default limits.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingest.isolation import ParserPool, load_isolated

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EMPTY_PASSWORD = "encrypted PDF opened with the empty user password"
# file -> (pages, at least this many characters of text, title, opened with the empty password)
EXPECTED: dict[str, tuple[int, int, str, bool]] = {
    "2022 Q3 AAPL.pdf": (28, 69000, "0000320193-22-000070", True),
    "2022 Q3 AMZN.pdf": (50, 178000, "0001018724-22-000023", True),
    "2022 Q3 INTC.pdf": (61, 176000, "10-Q - 10/28/2022 - Intel Corporation", False),
    "2022 Q3 MSFT.pdf": (80, 248000, "Form 10-Q for Microsoft Corp filed 10/24/2022", False),
    "2022 Q3 NVDA.pdf": (49, 145000, "0001045810-22-000166", True),
    "2023 Q1 AAPL.pdf": (46, 123000, "0000320193-23-000006", True),
    "2023 Q1 AMZN.pdf": (52, 172000, "0001018724-23-000008", True),
    "2023 Q1 INTC.pdf": (43, 113000, "04.01.2023 10Q Document", False),
    "2023 Q1 MSFT.pdf": (72, 220000, "Form 10-Q for Microsoft Corp filed 01/24/2023", False),
    "2023 Q1 NVDA.pdf": (49, 146000, "0001045810-23-000093", True),
    "2023 Q2 AAPL.pdf": (28, 67000, "0000320193-23-000064", True),
    "2023 Q2 AMZN.pdf": (51, 177000, "0001018724-23-000012", True),
    "2023 Q2 INTC.pdf": (50, 136000, "10-Q - 07/28/2023 - Intel Corporation", False),
    "2023 Q2 MSFT.pdf": (74, 219000, "Form 10-Q for Microsoft Corp filed 04/25/2023", False),
    "2023 Q2 NVDA.pdf": (51, 154000, "0001045810-23-000175", True),
    "2023 Q3 AAPL.pdf": (29, 68000, "0000320193-23-000077", True),
    "2023 Q3 AMZN.pdf": (51, 181000, "0001018724-23-000018", True),
    "2023 Q3 INTC.pdf": (54, 142000, "10-Q - 10/27/2023 - Intel Corporation", False),
    "2023 Q3 MSFT.pdf": (67, 192000, "Form 10-Q for Microsoft Corp filed 10/24/2023", False),
    "2023 Q3 NVDA.pdf": (52, 163000, "0001045810-23-000227", True),
}


@pytest.fixture(scope="module")
def pool() -> Iterator[ParserPool]:
    with ParserPool(size=1) as shared:
        yield shared


@pytest.fixture(scope="module")
def docs_dir(shared_data_dir: Path) -> Path:
    return shared_data_dir / "sec10q" / "docs"


def test_every_filing_has_an_expectation(docs_dir: Path) -> None:
    assert sorted(p.name for p in docs_dir.glob("*.pdf")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_filing_parses_in_the_isolated_worker(name: str, docs_dir: Path, pool: ParserPool) -> None:
    pages, min_chars, title, encrypted = EXPECTED[name]
    doc = load_isolated(docs_dir / name, timeout_s=120, memory_mb=2048, max_pages=5000, pool=pool)
    assert (doc.pages, doc.title) == (pages, title)
    assert len(doc.text) >= min_chars
    assert doc.warnings == ((EMPTY_PASSWORD,) if encrypted else ())
    assert "10-Q" in doc.text or "QUARTERLY REPORT" in doc.text.upper()


def test_two_filings_ingest_through_the_service(real_services: Any, docs_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "filings"
    folder.mkdir()
    names = ("2022 Q3 AAPL.pdf", "2023 Q2 AAPL.pdf")
    for name in names:
        shutil.copy(docs_dir / name, folder / name)
    service = real_services(ingest={"parse_timeout_s": 120})
    report = service.ingest([folder])
    assert report.failed == [] and report.count("added") == 2, report.outcomes
    by_name = {Path(o.path).name: o for o in report.outcomes}
    for name in names:
        assert by_name[name].pages == EXPECTED[name][0]
        assert by_name[name].chunks > 50
        assert by_name[name].warnings == (EMPTY_PASSWORD,)
    hits = service.search("iPhone net sales", k=5)
    assert hits.hits and all(h.chunk.file_name in names for h in hits.hits)
    assert any("iPhone" in h.chunk.text for h in hits.hits)
    assert service.doctor().consistent
