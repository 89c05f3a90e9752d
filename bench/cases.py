"""Cases: transfer form PDF vs bare WeasyPrint; inbox and overdue of 1M cases under gunicorn; 10 concurrent 签收."""

from __future__ import annotations

import copy
import math
import os
import random
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, insert, select, text

from bench.harness import PASSWORD_HASH, ROOT, Context, Result, compare, stopwatch
from bench.load import CLIENTS, Load, Server, floor_server, get, merge, run_load, session_cookie

NAME = "cases"

# BENCH_CASES: fewer cases while developing (the figures in the docs are of the default)
_N = os.environ.get("BENCH_CASES")
CASES = {"postgresql": int(_N or 1_000_000), "sqlite": int(_N or 50_000)}
SEED = 20260113
HOME = "511083"  # 隆昌市: the district user's bureau (a border county, transfers in and out)
WORKERS = 4
ROUNDS = 3  # the paths take turns, so drift in the machine falls on all of them
PHASE_SECONDS = 5.0  # per path and round, wrk's 16 clients (bench/load.py)
SEQUENTIAL = 30  # requests one at a time per path: the service time without queueing (logged)
ATTEMPTS = 10  # concurrent 签收


def run(ctx: Context) -> list[Result]:
    results = transfer_form(ctx)  # first, while this process is small (the renderer forks it)
    with ctx.app.app_context():
        n = CASES[ctx.backend]
        with stopwatch() as elapsed:
            data = populate(ctx, n)
        ctx.log(f"generated {n:,} cases and {data['shares']:,} case_share rows in {elapsed():.1f} s")
        results += lists_under_gunicorn(ctx, data)
        results.append(concurrent_receive(ctx, data))
    return results


# --- 1. the transfer form ----------------------------------------------------------------------------------


def _photo(path: Path, width: int, height: int, seed: int) -> Path:
    """A JPEG with the entropy of a photo (a small random mosaic, enlarged): what a phone sends, downscaled."""
    from PIL import Image

    rng = random.Random(seed)
    small = Image.new("RGB", (width // 16, height // 16))
    pixels = small.width * small.height
    small.putdata([(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(pixels)])
    small.resize((width, height), Image.Resampling.BILINEAR).save(path, "JPEG", quality=85)
    return path


def form_context(ctx: Context, n_cases: int) -> tuple[dict[str, Any], list[Path]]:
    """The form's sample (3 real-looking cases across the 川渝 border), repeated to `n_cases`, with evidence
    thumbnails as records.transfer_context gives them (absolute paths, also passed as allowed files)."""
    from app.printing import sample_context

    photos = [_photo(ctx.tmp / f"evidence-{i}.jpg", 1600, 1200, SEED + i) for i in range(3)]
    sample = sample_context("transfer_form")
    context = copy.deepcopy(sample)
    rows = []
    for i in range(n_cases):
        row = copy.deepcopy(sample["cases"][i % len(sample["cases"])])
        row["case_no"] = f"XS-2026-500153-{i + 31:05d}"
        # One photo thumbnail per three cases: more (or one in the first case, which lists four files) push the
        # sign-off of the 3-case form onto a second page.
        if i % 3 == 1:
            row["evidence"][0]["thumbnail"] = str(photos[i % 3])
        rows.append(row)
    context["cases"] = rows
    return context, photos


def transfer_form(ctx: Context) -> list[Result]:
    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration

    from app.printing import font_css, form_dir, render_html, render_pdf

    directory = form_dir("transfer_form")
    base_url = directory.as_uri() + "/"
    style = (directory / "style.css").read_text(encoding="utf-8")
    # Bare WeasyPrint, as a long-running program would call it: the font registered once, the form's CSS
    # parsed and the HTML rendered on every call; no sandbox, no fetcher, no child process.
    fonts = FontConfiguration()
    font_sheet = CSS(string=font_css(), font_config=fonts)

    def bare(html: str) -> bytes:
        sheet = CSS(string=style, base_url=base_url, font_config=fonts)
        return HTML(string=html, base_url=base_url).write_pdf(stylesheets=[font_sheet, sheet], font_config=fonts)

    def bare_cold(html: str) -> bytes:
        # What WeasyPrint's documentation shows: a new FontConfiguration (the 15 MB font loaded) per call.
        config = FontConfiguration()
        sheets = [CSS(string=font_css(), font_config=config),
                  CSS(string=style, base_url=base_url, font_config=config)]  # fmt: skip
        return HTML(string=html, base_url=base_url).write_pdf(stylesheets=sheets, font_config=config)

    def pages(html: str) -> int:
        sheet = CSS(string=style, base_url=base_url, font_config=fonts)
        document = HTML(string=html, base_url=base_url).render(stylesheets=[font_sheet, sheet], font_config=fonts)
        return len(document.pages)

    rows: list[Result] = []
    for n_cases, repeat, limit in ((3, 7, 0.4), (50, 3, 3.0)):
        context, photos = form_context(ctx, n_cases)
        html = render_html("transfer_form", context)
        pdf = render_pdf("transfer_form", context, allowed_files=photos)
        assert pdf.startswith(b"%PDF-") and bare(html).startswith(b"%PDF-")
        n_pages = pages(html)
        if n_cases == 3:
            assert n_pages == 1, f"the 3-case form should fit one page, not {n_pages}"
        ours, plain = compare(
            lambda c=context, p=photos: render_pdf("transfer_form", c, allowed_files=p), lambda h=html: bare(h),
            repeat=repeat,
        )  # fmt: skip
        cold = compare(lambda h=html: bare_cold(h), lambda h=html: bare(h), repeat=max(repeat // 2, 1))[0]
        ctx.log(
            f"transfer form, {n_cases} cases, {n_pages} page(s), {len(pdf) // 1024} KiB: render_pdf {ours:.3f} s, "
            f"bare WeasyPrint {plain:.3f} s (warm font), {cold:.3f} s (font loaded per call)"
        )
        name = f"transfer form PDF, {n_cases} cases ({n_pages} p.)"
        if n_cases == 3:
            rows.append(Result(name, ours, plain, "s", f"≤ 1.5× baseline, < {limit:g} s",
                               ours <= 1.5 * plain and ours < limit))  # fmt: skip
        else:
            rows.append(Result(name, ours, plain, "s", f"< {limit:g} s", ours < limit))
    return rows


# --- 2. data -----------------------------------------------------------------------------------------------

STATES_OWN = (("discovered", 3), ("received", 6), ("handling", 10), ("rectifying", 16), ("verified", 4), ("closed", 61))
STATES_TRANSFERRED = (
    ("discovered", 3), ("transferred", 8), ("returned", 1), ("received", 6), ("handling", 10), ("rectifying", 15),
    ("verified", 4), ("closed", 53),
)  # fmt: skip
SOURCE_TYPES = (("industrial", 40), ("dust", 30), ("mobile", 10), ("area", 20))
ORIGINS = (
    ("field_inspection", 55), ("power_check", 8), ("online_monitoring", 10), ("inspection_referral", 6),
    ("assistance_visit", 8), ("media", 3), ("complaint", 10),
)  # fmt: skip
NAMES = {
    "industrial": ("页岩砖厂", "陶瓷有限公司", "水泥有限公司", "化工有限公司", "铸造厂", "家具厂", "包装印刷厂"),
    "dust": ("安置房建设项目工地", "道路改造工程", "商品混凝土站", "砂石料堆场", "污水管网工程"),
    "mobile": ("物流园", "货运停车场", "渣土运输公司", "汽车客运站"),
    "area": ("汽车维修厂", "加油站", "火锅店", "农贸市场"),
}
WORDS = ("鑫旺", "恒达", "金鹅", "宏发", "瑞丰", "川渝", "兴隆", "永安", "华通", "万顺", "聚源", "长城", "天府")
DETAILS = (
    "重污染天气预警期间未按应急减排清单落实停限产措施",
    "治污设施未正常运行，排气筒可见明显烟尘",
    "物料堆场未苫盖，出入口车辆冲洗设施未使用",
    "用电监控显示治污设施用电量明显低于生产设施",
    "在线监测数据显示小时浓度超过排放限值",
    "现场未见应急减排公示牌，台账记录不全",
)
STREETS = ("工业园区", "经济开发区", "古湖街道", "金鹅街道", "响石镇", "双凤镇", "石燕桥镇", "城北新区")


def _weighted(rng: random.Random, table: tuple[tuple[str, int], ...]) -> Callable[[], str]:
    values = [v for v, _ in table]
    cum: list[int] = []
    total = 0
    for _, w in table:
        total += w
        cum.append(total)
    return lambda: rng.choices(values, cum_weights=cum)[0]


CASE_COLUMNS = (
    "id", "number", "state", "source_type", "topic", "origin", "inspected_at", "source_name", "source_address",
    "enterprise_uscc", "problem", "latitude", "longitude", "complainant_name", "complainant_phone",
    "discovered_bureau_id", "responsible_bureau_id", "created_by_id", "created_at", "transferred_at", "received_at",
    "return_reason", "enforcement_action", "decision_number", "penalty_amount", "rectify_deadline", "rectify_plan",
    "rectified_at", "verified_at", "verified_by_id", "verification_note", "closed_at", "due_at", "escalation",
    "lock_version", "jurisdiction_id",
)  # fmt: skip


ShareRow = tuple[int, int, str]


def case_rows(
    n: int, places: dict[int, Any], bureau_of: dict[int, int], user_of: dict[int, int],
    province_bureau: dict[str, int], now: datetime,
) -> Iterator[tuple[tuple[Any, ...], list[ShareRow]]]:  # fmt: skip
    """n cases and their case_share rows. Most are found and handled in the finder's own area; the rest are
    found elsewhere (60 % in the same province) and transferred there, cross-province ones copied to both
    provincial bureaus. Open cases are recent and about a third of them overdue."""
    from app.cases.vocabulary import TOPICS, SourceType

    rng = random.Random(SEED)
    counties = [j for j, p in places.items() if p.level == "county"]
    cities = [j for j, p in places.items() if p.level == "city"]
    finders = counties * 6 + cities  # county bureaus find most problems
    by_province: dict[str, list[int]] = {}
    for j in counties:
        by_province.setdefault(places[j].province, []).append(j)
    own_state, moved_state = _weighted(rng, STATES_OWN), _weighted(rng, STATES_TRANSFERRED)
    source_type, origin = _weighted(rng, SOURCE_TYPES), _weighted(rng, ORIGINS)
    escalations = (None, None, None, "warning", "warning", "exposure", "supervised", "summons")
    for i in range(1, n + 1):
        finder_j = rng.choice(finders)
        finder = bureau_of[finder_j]
        moved = rng.random() < 0.3
        if moved:
            pool = by_province[places[finder_j].province] if rng.random() < 0.6 else counties
            where = rng.choice(pool)
            if where == finder_j:
                moved = False
        else:
            where = finder_j
        state = moved_state() if moved else own_state()
        is_open = state != "closed"
        inspected = now - timedelta(days=rng.uniform(0.2, 45) if is_open else rng.uniform(45, 3 * 365))
        created = inspected + timedelta(minutes=rng.uniform(5, 240))
        st = source_type()
        topic = rng.choice(TOPICS[SourceType(st)])
        org = origin()
        place = places[where]
        transferred_at = received_at = None
        responsible: int | None = None
        if state not in ("discovered", "returned"):
            responsible = bureau_of[where] if moved else finder
            transferred_at = created + timedelta(hours=rng.uniform(0.5, 20))
        if state == "returned":
            transferred_at = created + timedelta(hours=rng.uniform(0.5, 20))
        if state in ("received", "handling", "rectifying", "verified", "closed"):
            received_at = (transferred_at or created) + (timedelta(hours=rng.uniform(1, 30)) if moved else timedelta())
        ordered = state in ("rectifying", "verified", "closed")
        verified = state in ("verified", "closed")
        reported = ordered and (verified or rng.random() < 0.3)
        rectified_at = received_at + timedelta(days=rng.uniform(2, 20)) if reported else None  # type: ignore[operator]
        verified_at = (rectified_at or created) + timedelta(days=rng.uniform(0.5, 5)) if verified else None
        due_at = None if not is_open else now + timedelta(hours=rng.uniform(-72, 168))
        complainant = org == "complaint" and rng.random() < 0.7
        row = (
            i, f"XS-{inspected.year}-{place.code}-{i:07d}", state, st, topic, org, inspected,
            f"{place.short}{rng.choice(WORDS)}{rng.choice(NAMES[st])}",
            f"{place.full}{rng.choice(STREETS)}{rng.randrange(1, 300)}号",
            None, f"{topic}：{rng.choice(DETAILS)}；{rng.choice(DETAILS)}。",
            round(28.5 + rng.random() * 2, 6), round(104.5 + rng.random() * 2, 6),
            f"{rng.choice('张王李赵刘陈杨黄')}先生" if complainant else None,
            f"138{rng.randrange(10**8):08d}" if complainant else None,
            finder, responsible, user_of[finder], created, transferred_at, received_at,
            "该点位不在本辖区，请改移属地" if state == "returned" else None,
            "责令限期改正并立案查处" if ordered else None,
            f"{place.short}环罚〔{inspected.year}〕{i % 1000}号" if ordered and rng.random() < 0.5 else None,
            float(rng.randrange(1, 50) * 10000) if ordered and rng.random() < 0.3 else None,
            (received_at + timedelta(days=15)).date() if ordered else None,  # type: ignore[operator]
            "按一厂一策落实减排措施，修复治污设施" if ordered else None,
            rectified_at, verified_at, user_of[finder] if verified else None,
            "现场复核，已整改到位" if verified else None,
            (verified_at + timedelta(days=rng.uniform(0.1, 3))) if state == "closed" else None,  # type: ignore[operator]
            due_at, rng.choice(escalations) if due_at is not None and due_at < now else None,
            rng.randrange(1, 8), where,
        )  # fmt: skip
        shares: list[tuple[int, int, str]] = []
        if moved:
            shares.append((i, finder, "discovered_by"))
            if state != "discovered" and places[finder_j].province != place.province:
                for code in sorted({places[finder_j].province, place.province}):
                    shares.append((i, province_bureau[code], "copy"))
        yield row, shares


class _Place:
    def __init__(self, code: str, short: str, level: str, province: str, full: str) -> None:
        self.code, self.short, self.level, self.province, self.full = code, short, level, province, full


def populate(ctx: Context, n: int) -> dict[str, Any]:
    """Inventories, a bureau and a user per jurisdiction, n cases, their shares; the district user of HOME."""
    from app.auth.models import Bureau, BureauKind, User, UserRole
    from app.auth.roles import Role
    from app.cases.models import Case, CaseShare
    from app.db import utcnow
    from app.places.models import Jurisdiction
    from app.places.services import load

    kinds = {"province": BureauKind.department, "city": BureauKind.bureau, "county": BureauKind.branch}
    roles = {"province": Role.province_staff, "city": Role.city_staff, "county": Role.district_staff}
    now = utcnow()
    with ctx.session() as s:
        load(s, ROOT / "inventories")
        s.commit()
        rows = s.execute(select(Jurisdiction.id, Jurisdiction.code, Jurisdiction.name, Jurisdiction.short_name,
                                Jurisdiction.level, Jurisdiction.path)).all()  # fmt: skip
        names = {r.code: r.name for r in rows}
        places = {}
        for r in rows:
            codes = r.path.strip("/").split("/")
            full = "".join(names.get(c, "") for c in codes)
            places[r.id] = _Place(r.code, r.short_name, str(r.level), codes[0], full)
        s.execute(insert(Bureau), [
            {"name": f"{r.name}生态环境局（{r.code}）", "kind": kinds[str(r.level)], "jurisdiction_id": r.id,
             "active": True, "created_at": now} for r in rows
        ])  # fmt: skip
        bureau_of = dict((j, b) for b, j in s.execute(select(Bureau.id, Bureau.jurisdiction_id)).all())
        s.execute(insert(User), [
            {"username": f"staff{places[j].code}", "display_name": f"{places[j].short}业务员", "bureau_id": b,
             "jurisdiction_id": j, "password_hash": PASSWORD_HASH, "locale": "zh", "active": True,
             "failed_logins": 0, "password_changed_at": now, "created_at": now} for j, b in bureau_of.items()
        ])  # fmt: skip
        users = s.execute(select(User.id, User.bureau_id, User.jurisdiction_id)).all()
        s.execute(insert(UserRole), [{"user_id": u.id, "role": roles[places[u.jurisdiction_id].level]} for u in users])
        s.commit()
    user_of = {u.bureau_id: u.id for u in users}
    province_bureau = {places[j].code: b for j, b in bureau_of.items() if places[j].level == "province"}

    generated = case_rows(n, places, bureau_of, user_of, province_bureau, now)
    engine = ctx.db.engine
    shares = 0
    if ctx.backend == "postgresql":
        raw = engine.raw_connection()
        try:
            cur = raw.cursor()
            share_rows: list[tuple[int, int, str]] = []
            with cur.copy(f"COPY case_record ({', '.join(CASE_COLUMNS)}) FROM STDIN") as copy_in:
                for row, share in generated:
                    copy_in.write_row(row)
                    share_rows.extend(share)
            with cur.copy("COPY case_share (case_id, bureau_id, reason) FROM STDIN") as copy_in:
                for share_row in share_rows:
                    copy_in.write_row(share_row)
            shares = len(share_rows)
            cur.execute("SELECT setval(pg_get_serial_sequence('case_record', 'id'), (SELECT max(id) FROM case_record))")
            raw.commit()
        finally:
            raw.close()
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE case_record"))  # what autovacuum does soon after a bulk load
            conn.execute(text("VACUUM ANALYZE case_share"))
    else:
        table, share_table = Case.__table__, CaseShare.__table__
        with engine.begin() as conn:
            batch: list[dict[str, Any]] = []
            share_batch: list[dict[str, Any]] = []
            for row, share in generated:
                batch.append(dict(zip(CASE_COLUMNS, row, strict=True)))
                share_batch.extend({"case_id": c, "bureau_id": b, "reason": r} for c, b, r in share)
                if len(batch) == 5000:
                    conn.execute(insert(table), batch)
                    batch = []
            if batch:
                conn.execute(insert(table), batch)
            if share_batch:
                conn.execute(insert(share_table), share_batch)
            shares = len(share_batch)
    home = next(j for j, p in places.items() if p.code == HOME)
    return {"places": places, "bureau_of": bureau_of, "user_of": user_of, "home_bureau": bureau_of[home],
            "home_user": user_of[bureau_of[home]], "home": home, "shares": shares, "n": n}  # fmt: skip


# --- 3. the lists under gunicorn ---------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def list_statements(ctx: Context, user_id: int) -> dict[str, tuple[str, Any]]:
    """The SQL (with parameters) of each list's page query as the view builds it (queries.for_view and
    list_page), in the user's scope."""
    from app.auth.models import User
    from app.auth.services import scope_for
    from app.cases.services import queries

    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if "FROM case_record" in statement:
            captured.append((statement, parameters))

    out: dict[str, tuple[str, Any]] = {}
    engine = ctx.db.engine
    with ctx.session() as s:
        user = s.get(User, user_id)
        scope = scope_for(s, user)
        bureau_id = user.bureau_id
    for view in ("inbox", "overdue"):
        stmt, order = queries.for_view(view, queries.Filters(), bureau_id, datetime.now(UTC))
        captured.clear()
        event.listen(engine, "before_cursor_execute", capture)
        try:
            with ctx.session(scope) as s:
                queries.list_page(s, stmt, 1, order)
        finally:
            event.remove(engine, "before_cursor_execute", capture)
        out[view] = captured[0]
    return out


def explain(ctx: Context, statement: str, parameters: Any) -> list[str]:
    raw = ctx.db.engine.raw_connection()
    try:
        cur = raw.cursor()
        if ctx.backend == "postgresql":
            cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
        else:
            cur.execute("EXPLAIN QUERY PLAN " + statement, parameters)
        lines = [" ".join(str(c) for c in row) for row in cur.fetchall()]
        raw.rollback()
        return lines
    finally:
        raw.close()


def lists_under_gunicorn(ctx: Context, data: dict[str, Any]) -> list[Result]:
    from app.cases.models import Case
    from app.cases.vocabulary import CaseState

    with ctx.session() as s:
        case_id = s.scalar(
            select(Case.id).where(Case.jurisdiction_id == data["home"])
            .order_by((Case.state == CaseState.handling).desc(), Case.id).limit(1)
        )  # fmt: skip
        visible = s.scalar(select(func.count()).select_from(Case).where(Case.jurisdiction_id == data["home"]))
    ctx.log(f"district user of {HOME}: {visible:,} cases in its area")
    # The district user's lists are measured below; the province's show the plans of a wide scope (tens of
    # thousands of cases shared with it), which read the overdue cases in due order instead.
    province_user = data["user_of"][data["bureau_of"][next(j for j, p in data["places"].items() if p.code == "510000")]]
    for who, user_id in (("district", data["home_user"]), ("province", province_user)):
        for view, (statement, parameters) in list_statements(ctx, user_id).items():
            plan = explain(ctx, statement, parameters)
            ctx.log(f"{view} page query plan, {who} user:\n    " + "\n    ".join(plan))
    cookie = session_cookie(ctx, data["home_user"])
    paths = {
        "one-row page": f"/bench/places/{data['home']}", "case page": f"/cases/{case_id}", "inbox": "/cases/inbox",
        "overdue": "/cases/overdue", "healthz": "/healthz",
    }  # fmt: skip
    server = Server(  # wsgi.py with the yardstick page (bench/_app.py)
        ctx, "bench._app:app", workers=WORKERS, args=("--timeout", "120", "--preload"),
        env={"DATABASE_URL": ctx.url, "LIANFANG_ENV": "testing", "UPLOAD_DIR": str(ctx.tmp / "uploads"),
             "SESSION_COOKIE_SECURE": "0"},
    )  # fmt: skip
    floor: Server | None = None
    try:
        floor = floor_server(ctx, workers=WORKERS)
        for label, path in paths.items():  # warm every worker, and check what the page is
            status, body, _ = get(server.port, path, cookie)
            assert status == 200, f"{path}: HTTP {status}"
            if label in ("inbox", "overdue"):
                page = body.decode()
                assert 'data-testid="case-table"' in page and "XS-" in page, f"{path}: no cases listed"
            for _ in range(3 * WORKERS):
                get(server.port, path, cookie)
        for label, path in paths.items():
            alone = [get(server.port, path, cookie)[2] for _ in range(SEQUENTIAL)]
            ctx.log(f"{label}: one client, median {percentile(alone, 0.5) * 1e3:.1f} ms, "
                    f"max {max(alone) * 1e3:.1f} ms")  # fmt: skip
        loads: dict[str, list[Load]] = {label: [] for label in (*paths, "floor")}
        for i in range(ROUNDS):
            for label, path in paths.items():
                loads[label].append(run_load(server.port, [path], [cookie], PHASE_SECONDS, workdir=ctx.tmp, seed=i))
            loads["floor"].append(run_load(floor.port, ["/healthz"], [], PHASE_SECONDS, workdir=ctx.tmp, seed=i))
    finally:
        server.stop()
        if floor is not None:
            floor.stop()
    merged = {label: merge(parts) for label, parts in loads.items()}
    for label, load in merged.items():
        assert not load.errors, f"{paths.get(label, label)}: {load.errors} requests failed"
        ctx.log(load.line(label) + f", {CLIENTS} clients, {WORKERS} workers")
    one, floor_ = merged["one-row page"], merged["floor"]
    size = f"{data['n'] // 1000:,}k" if data["n"] < 1_000_000 else f"{data['n'] // 1_000_000}M"
    # Issue 11's targets: ratios of requests per second under the same 16 clients, in one run.
    rows = [
        Result.info("bare Flask + one SELECT req/s, the machine's floor", floor_.rps, floor_.rps, "req/s"),
        Result.at_least("one-row page (full layout) req/s vs the floor", one.rps, floor_.rps, "req/s", 1 / 3),
    ]
    for label in ("inbox", "overdue"):
        rows.append(Result.at_least(f"{label} req/s, {size} cases, vs one-row page", merged[label].rps, one.rps,
                                    "req/s", 0.5))  # fmt: skip
    rows.append(Result.info("case page req/s vs one-row page", merged["case page"].rps, one.rps, "req/s"))
    rows.append(Result.info("healthz req/s vs one-row page", merged["healthz"].rps, one.rps, "req/s"))
    base = merged["case page"].p99
    for label in ("inbox", "overdue"):
        rows.append(Result.info(f"{label} p99, {size} cases, {CLIENTS} clients (base: case page)", merged[label].p99,
                                base, "ms"))  # fmt: skip
    rows.append(Result.info("bare Flask + one SELECT p99, the machine's floor (base: case page)", floor_.p99, base,
                            "ms"))  # fmt: skip
    return rows


# --- 4. ten concurrent signatures --------------------------------------------------------------------------


def concurrent_receive(ctx: Context, data: dict[str, Any]) -> Result:
    """One case transferred to the district bureau; ten of its staff sign for it at once, each in its own
    session and connection (on PostgreSQL all read it first, then all write)."""
    from app.audit.models import AuditEntry
    from app.auth.models import User, UserRole
    from app.auth.roles import Role
    from app.auth.services import scope_for
    from app.cases.models import Case, CaseEvent
    from app.cases.services import records, workflow
    from app.cases.vocabulary import CaseState
    from app.core.errors import Conflict
    from app.core.scoping import set_scope
    from app.db import utcnow

    places = data["places"]
    finder_j = next(j for j, p in places.items() if p.code == "500153")  # 荣昌区, across the border
    with ctx.session() as s:
        now = utcnow()
        finder = User(username="bench_rc_inspector", display_name="荣昌执法员", bureau_id=data["bureau_of"][finder_j],
                      jurisdiction_id=finder_j, password_hash=PASSWORD_HASH, role_rows=[UserRole(role=Role.inspector)],
                      password_changed_at=now)  # fmt: skip
        receivers = [
            User(username=f"bench_receiver_{i}", display_name=f"隆昌业务员{i}", bureau_id=data["home_bureau"],
                 jurisdiction_id=data["home"], password_hash=PASSWORD_HASH,
                 role_rows=[UserRole(role=Role.district_staff)], password_changed_at=now)
            for i in range(ATTEMPTS)
        ]  # fmt: skip
        s.add_all([finder, *receivers])
        s.flush()
        case = records.create_case(s, finder, {
            "source_type": "industrial", "topic": "治污设施未正常运行", "origin": "field_inspection",
            "source_name": "隆昌市鑫旺页岩砖厂", "place": HOME, "problem": "脱硫塔循环泵停运，在线监测二氧化硫超标",
        })  # fmt: skip
        records.create_transfer(s, finder, [case.id], data["home_bureau"])
        s.commit()
        case_id, receiver_ids = case.id, [r.id for r in receivers]
        last_event = s.scalar(select(func.max(CaseEvent.id)).where(CaseEvent.case_id == case_id))

    postgres = ctx.backend == "postgresql"
    start = threading.Barrier(ATTEMPTS, timeout=60)
    loaded = threading.Barrier(ATTEMPTS, timeout=60) if postgres else None  # SQLite: BEGIN IMMEDIATE queues

    def attempt(user_id: int) -> str:
        with ctx.app.app_context(), ctx.session() as s:  # a context of its own, as each request has
            try:
                start.wait()
                user = s.get(User, user_id)
                set_scope(s, scope_for(s, user))
                row = s.get(Case, case_id)
                if loaded is not None:
                    loaded.wait()
                workflow.transition(s, row, workflow.Action.receive, user)
                s.commit()
                return "ok"
            except Conflict:
                s.rollback()
                return "Conflict"
            except Exception as exc:  # counted as a loss; its type is reported
                s.rollback()
                return f"{type(exc).__name__}: {exc}"[:300]

    with ThreadPoolExecutor(max_workers=ATTEMPTS) as pool:
        outcomes = list(pool.map(attempt, receiver_ids))
    with ctx.session() as s:
        state = s.get(Case, case_id).state
        changes = s.scalar(
            select(func.count()).select_from(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.id > last_event)
        )
        audited = s.scalar(
            select(func.count()).select_from(AuditEntry)
            .where(AuditEntry.action == "case.receive", AuditEntry.object_id == str(case_id))
        )  # fmt: skip
    wins = outcomes.count("ok")
    losses = {o: outcomes.count(o) for o in sorted(set(outcomes) - {"ok"})}
    ctx.log(f"{ATTEMPTS} concurrent 签收: {wins} won, losers got {losses}, state {state}, "
            f"{changes} timeline event(s), {audited} case.receive audit entr(y/ies)")  # fmt: skip
    passed = wins == 1 and audited == 1 and changes == 1 and state is CaseState.received
    name = f"{ATTEMPTS} concurrent 签收: successes (1 audit, 1 change)"
    return Result(name, float(wins), 1.0, "", "exactly 1", passed)
