"""The end of the audit log cannot be cut off unseen: the head is anchored outside the database (a signed line
per commit in the instance folder, and a signed head in every export), and `flask audit verify` compares."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select, text

from app.audit.models import AuditEntry
from app.audit.services import ANCHOR_FILE, record
from app.auth.roles import Role
from tests.conftest import is_postgres


@pytest.fixture
def anchor_file(app, session, tmp_path: Path, monkeypatch) -> Path:  # type: ignore[no-untyped-def]
    path = tmp_path / "audit-anchor.log"
    monkeypatch.setitem(app.config, "AUDIT_ANCHOR_FILE", str(path))
    session.info[ANCHOR_FILE] = str(path)
    return path


def _cut_off_the_end(session, keep: int) -> None:  # type: ignore[no-untyped-def]
    """What someone with database access does: triggers off, newest entries deleted, the head moved back."""
    if is_postgres():
        session.execute(text("ALTER TABLE audit_entry DISABLE TRIGGER audit_entry_no_update_delete"))
    else:
        session.execute(text("DROP TRIGGER audit_entry_no_delete"))
    last = session.scalars(select(AuditEntry).where(AuditEntry.seq == keep)).one()
    session.execute(text("DELETE FROM audit_entry WHERE seq > :s").bindparams(s=keep))
    session.execute(text("UPDATE audit_head SET seq = :s, last_hash = :h").bindparams(s=keep, h=last.hash))
    session.commit()


def _chain(session, n: int) -> list[AuditEntry]:  # type: ignore[no-untyped-def]
    for i in range(n):
        record(session, "test.anchor", detail={"i": i})
        session.commit()  # one commit each: one anchor each
    return session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(n)).all()[::-1]


def test_each_commit_with_audit_entries_appends_a_signed_head(anchor_file, session, runner) -> None:  # type: ignore[no-untyped-def]
    entries = _chain(session, 3)
    lines = [json.loads(line) for line in anchor_file.read_text().splitlines()]
    assert [line["seq"] for line in lines[-3:]] == [e.seq for e in entries]
    assert lines[-1]["hash"] == entries[-1].hash and len(lines[-1]["sig"]) == 64
    # a commit without audit entries, and a rollback, anchor nothing
    session.commit()
    record(session, "test.rolled_back")
    session.rollback()
    assert len(anchor_file.read_text().splitlines()) == len(lines)
    ok = runner.invoke(args=["audit", "verify"])
    assert ok.exit_code == 0, ok.output
    assert f"up to the head anchored at {lines[-1]['at']} (seq {entries[-1].seq})" in ok.output


def test_verify_reports_the_newest_entries_cut_off_with_the_head_moved_back(anchor_file, session, runner) -> None:  # type: ignore[no-untyped-def]
    entries = _chain(session, 5)
    _cut_off_the_end(session, keep=entries[2].seq)
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1, result.output
    assert (
        f"truncated: the chain ends at {entries[2].seq} but the head anchored" in result.output
        and f"entries {entries[3].seq}–{entries[4].seq} were cut off" in result.output
    ), result.output


def test_without_an_anchor_the_cut_goes_unseen_and_verify_says_so(app, session, runner, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(app.config, "AUDIT_ANCHOR_FILE", "")
    entries = _chain(session, 3)
    _cut_off_the_end(session, keep=entries[0].seq)
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and "a cut-off end is not detected" in result.output


def test_a_cut_and_rewritten_end_differs_from_the_anchor(anchor_file, session, runner) -> None:  # type: ignore[no-untyped-def]
    entries = _chain(session, 4)
    _cut_off_the_end(session, keep=entries[1].seq)
    session.info.pop(ANCHOR_FILE)  # the rewriting commits are not anchored (written past the application)
    _chain(session, 2)  # the chain grows back to the anchored length with other entries
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"entry {entries[3].seq} is not the one anchored" in result.output, result.output


def test_a_forged_anchor_line_is_reported(anchor_file, session, runner) -> None:  # type: ignore[no-untyped-def]
    _chain(session, 1)
    with anchor_file.open("a") as f:
        f.write(json.dumps({"seq": 10**9, "hash": "0" * 64, "at": "2026-01-01T00:00:00", "sig": "f" * 64}) + "\n")
        f.write("not json\n")
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert "anchor file line" in result.output and "no valid signature" in result.output
    assert "truncated" not in result.output  # the forged line is no anchor


def test_each_export_carries_the_signed_head_and_verify_checks_it(app, make_user, login_as, session, runner,
                                                                   tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]  # fmt: skip
    monkeypatch.setitem(app.config, "AUDIT_ANCHOR_FILE", "")  # the export alone anchors the head here
    entries = _chain(session, 4)
    client = login_as(make_user("anchor_auditor", code="510000", roles=(Role.audit_admin,)))
    response = client.get("/audit/export.csv?action=test.anchor")
    assert response.status_code == 200
    export = tmp_path / "audit-log.csv"
    export.write_bytes(response.data)
    last = response.get_data(as_text=True).strip().splitlines()[-1].split(",")
    assert last[0] == "#audit-head" and int(last[1]) >= entries[-1].seq
    ok = runner.invoke(args=["audit", "verify", "--export", str(export)])
    assert ok.exit_code == 0, ok.output
    _cut_off_the_end(session, keep=entries[1].seq)
    cut = runner.invoke(args=["audit", "verify", "--export", str(export)])
    assert cut.exit_code == 1 and "(export audit-log.csv)" in cut.output and "were cut off" in cut.output
    forged = tmp_path / "forged.csv"
    forged.write_text(export.read_text(encoding="utf-8-sig").replace(last[2], "0" * 64), encoding="utf-8")
    bad = runner.invoke(args=["audit", "verify", "--export", str(forged)])
    assert bad.exit_code == 1 and "no valid signature" in bad.output
