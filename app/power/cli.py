"""`flask power …`: devices, the HJ 212 receiver and the check (a CLI mirror of the screens)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from app.core.commands import transactional

power_cli = AppGroup("power", help="Power-consumption checks (耗电量核算): devices, HJ 212 receiver, the check.")


@power_cli.command("device")
@click.argument("mn")
@click.argument("uscc")
@click.argument("factors", nargs=-1, required=True)
def device(mn: str, uscc: str, factors: tuple[str, ...]) -> None:
    """Register device MN of enterprise USCC; FACTORS as CODE=METER_NUMBER (e30101=M1 e30102=M2)."""
    from app.power.devices import register_device

    pairs = dict(f.split("=", 1) for f in factors if "=" in f)
    if len(pairs) != len(factors):
        raise click.ClickException("factors are CODE=METER_NUMBER")

    @transactional
    def run(s) -> None:  # type: ignore[no-untyped-def]
        d = register_device(s, mn, uscc, pairs)
        click.echo(f"device {d.mn}: {len(d.factors)} factors")

    run()


@power_cli.command("receive")
@click.option("--host", default="0.0.0.0", show_default=True)  # noqa: S104 - a receiver listens for devices
@click.option("--port", default=6001, show_default=True, type=int)
def receive(host: str, port: int) -> None:
    """Listen for HJ 212 devices over TCP until interrupted."""
    from app.power.receiver import Server

    server = Server(current_app._get_current_object(), (host, port))  # type: ignore[attr-defined]
    click.echo(f"HJ 212 receiver on {host}:{server.server_address[1]}")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@power_cli.command("check")
@click.argument("episode", type=int)
@click.option("--as-of", "as_of", default=None, help="check up to this local time (YYYY-MM-DD HH:MM); default now")
def check_episode(episode: int, as_of: str | None) -> None:
    """Run the check on EPISODE's enterprises under response, store its flags, print them as JSON
    (docs/power-flags.schema.json)."""
    import json

    import pandas as pd

    from app.power.domain.grid import LOCAL_TZ
    from app.power.flags import run

    at = pd.Timestamp(as_of).tz_localize(LOCAL_TZ).to_pydatetime() if as_of else None

    @transactional
    def go(s) -> None:  # type: ignore[no-untyped-def]
        click.echo(json.dumps(run(s, episode, at), ensure_ascii=False, indent=2))

    go()


@power_cli.command("report")
@click.argument("uscc")
@click.argument("kind", type=click.Choice(["stoppage", "maintenance", "retrofit", "power_cut"]))
@click.argument("start")
@click.argument("end")
@click.option("--note", default="")
def report(uscc: str, kind: str, start: str, end: str, note: str) -> None:
    """Record a stoppage / maintenance / retrofit / power cut of USCC reported in advance, START to END (local)."""
    import pandas as pd

    from app.power.devices import report_in_advance
    from app.power.domain.grid import LOCAL_TZ

    at = [pd.Timestamp(v).tz_localize(LOCAL_TZ).to_pydatetime() for v in (start, end)]

    @transactional
    def go(s) -> None:  # type: ignore[no-untyped-def]
        r = report_in_advance(s, uscc, kind, at[0], at[1], note)
        click.echo(f"report {r.id}: {kind} {start} – {end}")

    go()
