"""Take the README screenshots of the UI: docs/img/ui-chat.png and docs/img/ui-graph.png.

Does what the browser test does: ingests the sample corpus into a temporary index, starts
``citewise ui`` on a free port, drives headless Chromium, asks a question, opens the sources,
then searches the knowledge graph.

    .venv/bin/python scripts/ui_screenshots.py [--mode llm|extractive] [--out docs/img]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
QUESTION = "When was the Skarvik Marine Institute founded?"
ENTITY = "Ingrid Halvorsen"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["llm", "extractive"], default="llm")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "img")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from app.service import Citewise

    with tempfile.TemporaryDirectory(prefix="citewise-shots-") as tmp:
        root = Path(tmp)
        index = root / "data" / "index"
        service = Citewise.open(index, cache_dir=root / "cache")
        service.ingest([REPO / "data" / "corpus"], exclude=["**/QUESTIONS.md"])
        service.close()
        env = {
            "CITEWISE_CACHE_DIR": str(root / "cache"),
            "CITEWISE_LLM__MAX_TOKENS": "96",
            "HF_HUB_OFFLINE": "1",
        }
        shoot(index, env, root, args.mode, args.out)


def shoot(index: Path, env: dict[str, str], root: Path, mode: str, out: Path) -> None:
    from tests.e2e.ui_driver import (
        ask,
        choose_mode,
        chromium,
        expand,
        open_app,
        running_ui,
        screenshot,
        wait_for,
    )

    with (
        running_ui(index, env=env, log_path=root / "server.log") as url,
        chromium(root / "profile") as driver,
    ):
        open_app(driver, url)
        choose_mode(driver, "Local LLM" if mode == "llm" else "Extractive")
        expand(ask(driver, QUESTION))
        print("wrote", screenshot(driver, out / "ui-chat.png"))
        driver.get(f"{url}/graph")
        box = wait_for(driver, '[data-testid="stTextInput"] input')
        box.send_keys(ENTITY + "\n")
        time.sleep(6)  # the rerun, then d3-graphviz lays the graph out
        print("wrote", screenshot(driver, out / "ui-graph.png", height=900))


if __name__ == "__main__":
    main()
