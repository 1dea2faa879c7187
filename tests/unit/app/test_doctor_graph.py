"""The doctor's verdict on one document's graph, from its recorded status and what the store holds."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.doctor_graph import graph_issue, graph_status
from retrieval.vectorstores.docstore import DocumentRecord, graph_extra

CHILDREN = {"d:0", "d:1"}


def record(extra: str, ingested_at: float = 100.0) -> DocumentRecord:
    return DocumentRecord("d", "/docs/d.txt", "d.txt", "txt", "h", ingested_at=ingested_at, extra=extra)


def kind(extra: str, mentioned: set[str] | None, *, listed: bool = True, session: Any = None) -> str | None:
    issue = graph_issue(record(extra), mentioned, CHILDREN, session, graph_on=True, listed=listed)
    return issue.kind if issue is not None else None


@pytest.mark.parametrize(
    ("extra", "mentioned", "expected"),
    [
        (graph_extra("done", notes=["no entities found"]), set(), None),  # no entities is a result
        (graph_extra("done"), {"d:0"}, None),
        (graph_extra("done"), None, "missing_graph"),
        (graph_extra("done"), {"old:0"}, "stale_mentions"),
        (graph_extra("pending", reason="graph worker crashed (exit code 9)"), None, "pending_graph"),
        (graph_extra("pending"), set(), "pending_graph"),  # an empty placeholder is no graph
        (graph_extra("pending"), {"d:1"}, "unconfirmed_graph"),  # killed between commit and mark
        (graph_extra("pending"), {"old:0"}, "stale_mentions"),
        (graph_extra("off"), None, None),
        (graph_extra("off"), {"d:0"}, "unwanted_graph"),
    ],
)
def test_the_recorded_status_decides(extra: str, mentioned: set[str] | None, expected: str | None) -> None:
    assert kind(extra, mentioned) == expected


def test_a_backend_that_cannot_list_its_documents_still_gets_pending_graphs_reported() -> None:
    issue = graph_issue(
        record(graph_extra("pending", reason="graph extraction timed out after 121 s")),
        None,
        CHILDREN,
        None,
        graph_on=True,
        listed=False,
    )
    assert issue is not None and issue.kind == "pending_graph" and "timed out after 121 s" in issue.detail
    assert kind(graph_extra("done"), None, listed=False) is None
    assert kind("{}", None, listed=False, session={"started_at": 0, "graph": True}) is None


def test_older_indexes_are_read_off_their_marks() -> None:
    failed = json.dumps({"graph_notes": ["graph extraction failed: graph worker crashed (exit code 1)"]})
    assert graph_status(record(failed)) == (
        "pending",
        "graph extraction failed: graph worker crashed (exit code 1)",
    )
    assert kind(failed, set()) == "pending_graph"  # issue 21: an empty graph stored as if done
    confirmed = json.dumps({"graph_notes": ["no entities found"]})
    assert graph_status(record(confirmed)) == ("done", "")
    assert kind(confirmed, set()) is None
    assert graph_status(record("{}")) == (None, "")


def test_unmarked_documents_of_an_interrupted_session_follow_its_graph_choice() -> None:
    building = {"started_at": 50.0, "graph": True}
    assert kind("{}", None, session=building) == "pending_graph"
    assert kind("{}", {"d:0"}, session=building) == "unconfirmed_graph"
    assert kind("{}", {"d:0"}, session={"started_at": 50.0, "graph": False}) == "unwanted_graph"
    assert kind("{}", None, session={"started_at": 500.0, "graph": True}) is None  # before the session
    assert kind("{}", None) is None
