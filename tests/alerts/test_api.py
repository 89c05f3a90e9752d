"""The forecast center posts forecasts as JSON: stored once per content, bad items refused by name, evaluated."""

from __future__ import annotations

from jsonschema import Draft202012Validator

from app.auth.roles import Role
from tests.test_openapi import SPEC, bearer

UNITS = ("510100", "510600", "510700", "511400", "511100", "511800")
VALUES = {"values": [
    {"unit": u, "date": f"2026-12-{d:02d}", "aqi": 250 if 10 <= d <= 11 and u != "510700" else 80}
    for u in UNITS for d in range(8, 16)
]}  # fmt: skip


def schema(name: str) -> Draft202012Validator:
    return Draft202012Validator({**SPEC["components"]["schemas"][name], "components": SPEC["components"]},
                                format_checker=None)  # fmt: skip


def test_post_forecast_twice_stored_once_and_evaluate(app, session, runner, make_user, client) -> None:  # type: ignore[no-untyped-def]
    assert runner.invoke(args=["inventories", "load"]).exit_code == 0
    forecaster = make_user("api_forecaster", code="510000", roles=(Role.forecast_center,))
    headers = bearer(session, forecaster)
    first = client.post("/api/v1/alerts/forecasts", json=VALUES, headers=headers)
    assert first.status_code == 201, first.get_json()
    assert first.get_json()["created"] is True and first.get_json()["rows"] == 48
    schema("ForecastIssue").validate(first.get_json())
    again = client.post("/api/v1/alerts/forecasts", json=VALUES, headers=headers)
    assert again.status_code == 200 and again.get_json()["id"] == first.get_json()["id"]
    bad = client.post("/api/v1/alerts/observations", json={"values": [{"unit": "510100", "date": "x", "aqi": 9}]},
                      headers=headers)  # fmt: skip
    assert bad.status_code == 400 and "api.json 第1项 date 列" in bad.get_json()["error"]["message"]
    result = client.post("/api/v1/alerts/evaluate/chuanyu", json=VALUES, headers=headers)
    assert result.status_code == 200
    body = result.get_json()
    schema("Evaluation").validate(body)
    [activation] = body["activations"]
    assert activation["zones"] == ["chengdu_plain"] and activation["level"] == "orange"
    inspector = make_user("api_inspector", code="510000", roles=(Role.inspector,))
    refused = client.post("/api/v1/alerts/forecasts", json=VALUES, headers=bearer(session, inspector))
    assert refused.status_code == 403
