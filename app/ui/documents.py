"""The documents page: upload and ingest with live per-file progress, list and remove documents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

from app.service import Citewise
from app.ui.common import get_service, lock, user_errors
from app.ui.formatting import escape_md, format_time
from app.uploads import Upload, ingest_uploads, remove_document

_ICONS = {
    "added": ":material/check_circle:",
    "updated": ":material/sync:",
    "unchanged": ":material/radio_button_unchecked:",
    "removed": ":material/delete:",
    "failed": ":material/error:",
    "skipped": ":material/block:",
}


def render() -> None:
    """Draw the documents page."""
    service = get_service()
    st.title("Documents")
    st.caption("Files are parsed, chunked, embedded and added to the knowledge graph on this machine.")
    _upload_section(service)
    _last_report()
    _document_list(service)


def _upload_section(service: Citewise) -> None:
    from ingest.loaders import supported_suffixes

    max_mb = service.settings.ui.max_upload_mb
    generation = st.session_state.setdefault("upload_generation", 0)
    files = st.file_uploader(
        f"Add files: PDF, Word, HTML, Markdown or text, up to {max_mb} MB each",
        type=[s.lstrip(".") for s in supported_suffixes()],
        accept_multiple_files=True,
        key=f"uploader_{generation}",
    )
    if files and st.button(
        f"Ingest {len(files)} file{'s' if len(files) != 1 else ''}",
        type="primary",
        icon=":material/upload:",
        key="ingest_uploads",
    ):
        uploads = [Upload(f.name, f.getvalue()) for f in files]
        _ingest(service, uploads, max_mb)
        st.session_state["upload_generation"] = generation + 1
        st.rerun()


def _ingest(service: Citewise, uploads: list[Upload], max_mb: float) -> None:
    with st.status(f"Ingesting {len(uploads)} file(s)…", expanded=True) as status:
        bar = st.progress(0.0, text="reading files")
        seen: list[dict[str, Any]] = []
        total = {"files": len(uploads)}

        def progress(event: str, data: dict[str, Any]) -> None:
            if event == "start":
                total["files"] = max(1, data["files"])
            elif event == "file":
                row = _row(data["outcome"])
                seen.append(row)
                bar.progress(min(1.0, len(seen) / total["files"]), text=f"{len(seen)}/{total['files']}")
                st.markdown(_line(row))

        report = None
        with lock("write"), user_errors("Ingest"):
            report = ingest_uploads(service, uploads, max_mb=max_mb, progress=progress)
        if report is None:
            status.update(label="Ingest failed", state="error")
            return
        rows = [_row(o) for o in report.outcomes]
        reported = {r["path"] for r in seen}
        for row in rows:
            if row["path"] not in reported:  # rejected or skipped before parsing: no progress event
                st.markdown(_line(row))
        failed = sum(1 for r in rows if r["status"] in ("failed", "skipped"))
        label = f"{len(rows) - failed} of {len(rows)} file(s) ingested" + (
            f", {failed} failed" if failed else ""
        )
        status.update(label=label, state="error" if failed else "complete", expanded=bool(failed))
        st.session_state["last_ingest"] = rows


def _row(outcome: Any) -> dict[str, Any]:
    return {
        "path": outcome.path,
        "name": Path(outcome.path).name,
        "status": outcome.status,
        "reason": outcome.reason,
        "chunks": outcome.chunks,
        "entities": outcome.entities,
        "seconds": outcome.seconds,
    }


def _line(row: dict[str, Any]) -> str:
    icon = _ICONS.get(row["status"], "")
    text = f"{icon} **{escape_md(row['name'])}** — {row['status']}"
    if row["status"] in ("failed", "skipped"):
        return f"{text}: {escape_md(row['reason'])}"
    if row["status"] in ("added", "updated"):
        return f"{text}: {row['chunks']} chunks, {row['entities']} entities in {row['seconds']:.1f} s"
    return text


def _last_report() -> None:
    rows = st.session_state.get("last_ingest")
    if not rows:
        return
    ok = [r for r in rows if r["status"] not in ("failed", "skipped")]
    if ok:
        st.success("  \n".join(_line(r) for r in ok), icon=":material/task_alt:")
    for row in rows:
        if row["status"] in ("failed", "skipped"):
            st.error(f"**{escape_md(row['name'])}** was not ingested: {escape_md(row['reason'])}")


def _document_list(service: Citewise) -> None:
    docs = []
    with user_errors("Listing the documents"):
        docs = sorted(service.documents(), key=lambda d: d.file_name.lower())
    st.subheader(f"Indexed documents ({len(docs)})")
    if not docs:
        st.info("Nothing indexed yet. Upload files above, or run `ingest PATH` in a terminal.")
        return
    table = [
        {
            "Name": d.file_name,
            "Type": d.file_type,
            "Pages": str(d.pages) if d.pages else "–",
            "Chunks": d.n_children,
            "Entities": d.n_entities,
            "Ingested": format_time(d.ingested_at),
            "Location": d.source,
        }
        for d in docs
    ]
    st.dataframe(table, hide_index=True, width="stretch", key="documents_table")
    by_source = {d.source: d for d in docs}
    choose, remove = st.columns([4, 1], vertical_alignment="bottom")
    source = choose.selectbox(
        "Remove a document from the index",
        list(by_source),
        format_func=lambda s: f"{by_source[s].file_name} ({s})",
        index=None,
        placeholder="Choose a document",
        key="remove_choice",
    )
    if remove.button("Remove", icon=":material/delete:", disabled=source is None, key="remove_document"):
        _remove(service, source)


def _remove(service: Citewise, source: str | None) -> None:
    if source is None:
        return
    removed: list[str] = []
    with lock("write"), user_errors("Removing the document"):
        removed = remove_document(service, source)
    if removed:
        st.session_state.pop("remove_choice", None)
        st.toast(f"Removed {Path(source).name}", icon=":material/delete:")
        st.rerun()
