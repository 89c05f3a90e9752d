"""Load from a second process: wrk (C, epoll) drives N concurrent clients against a local server.

The benchmarks used to run their clients as Python threads inside the benchmark process. On a 2-core machine
those threads took a large share of the CPU the server needed and added their own GIL waits to every latency,
so the p99 measured the client as much as the server. wrk costs a few percent of one core at these rates.

`run_load` sends GETs to paths drawn beforehand (deterministically, by the caller's generator), one session
cookie per wrk thread, and counts every answer that is not 200 as an error (a redirect to the login page is
an error here, not a fast success).
"""

from __future__ import annotations

import http.client
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CLIENTS = 16  # concurrent connections
THREADS = 2  # wrk's own threads (one per core here)
PATHS_PER_PHASE = 4000  # distinct paths drawn per phase; wrk cycles through them

_SCRIPT = r"""
local paths = {%(paths)s}
local cookies = {%(cookies)s}
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("cookie", cookies[(counter - 1) %% #cookies + 1])
  thread:set("offset", (counter - 1) * 7919)
  table.insert(threads, thread)
end

function init(args)
  bad = 0
  n = offset
  headers = {["Accept-Language"] = "zh-CN"}
  if cookie ~= "" then headers["Cookie"] = cookie end
end

function request()
  n = n + 1
  return wrk.format("GET", paths[n %% #paths + 1], headers)
end

function response(status, hdrs, body)
  if status ~= 200 then bad = bad + 1 end
end

function done(summary, latency, requests)
  local errors = 0
  for _, t in ipairs(threads) do errors = errors + t:get("bad") end
  io.write(string.format(
    'RESULT {"requests": %%d, "seconds": %%f, "p50": %%f, "p90": %%f, "p99": %%f, "max": %%f, ' ..
    '"bad_status": %%d, "socket_errors": %%d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3, latency:percentile(90) / 1e3,
    latency:percentile(99) / 1e3, latency.max / 1e3, errors,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


@dataclass
class Load:
    """What one phase measured: latencies in milliseconds, as wrk's histogram gives them."""

    requests: int
    seconds: float
    p50: float
    p90: float
    p99: float
    max: float
    bad_status: int
    socket_errors: int
    cpu_ms: float = 0.0  # CPU time of the whole machine (server, database, wrk) per request; 0 if unknown

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        return self.bad_status + self.socket_errors

    def line(self, label: str) -> str:
        return (
            f"{label:>12}: {self.rps:7.1f} req/s, p50 {self.p50:6.1f} ms, p90 {self.p90:6.1f} ms, "
            f"p99 {self.p99:6.1f} ms, max {self.max:6.1f} ms ({self.requests} requests, {self.errors} errors)"
            + (f", {self.cpu_ms:.1f} ms CPU/request" if self.cpu_ms else "")
        )


def wrk_path() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise RuntimeError("wrk is not installed: `apt-get install wrk` (make bench installs it)")
    return found


def _lua_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=True)  # a JSON string literal is a valid Lua string literal here


def run_load(
    port: int,
    paths: Callable[[random.Random], str] | Sequence[str],
    cookies: Sequence[str],
    seconds: float,
    *,
    workdir: Path,
    clients: int = CLIENTS,
    seed: int = 1,
    timeout_s: int = 30,
) -> Load:
    """`clients` connections for `seconds` against 127.0.0.1:`port`; `paths` is a list, or a generator drawn
    PATHS_PER_PHASE times with a seeded random.Random."""
    if callable(paths):
        rng = random.Random(seed)
        drawn = [paths(rng) for _ in range(PATHS_PER_PHASE)]
    else:
        drawn = list(paths)
    script = workdir / f"wrk-{seed}-{abs(hash(tuple(drawn[:3])))}.lua"
    script.write_text(
        _SCRIPT
        % {
            "paths": ", ".join(_lua_string(p) for p in drawn),
            "cookies": ", ".join(_lua_string(c) for c in cookies) or '""',
        },
        encoding="utf-8",
    )
    threads = max(1, min(THREADS, clients))
    busy = _busy_ms()
    done = subprocess.run(
        [wrk_path(), f"-t{threads}", f"-c{clients}", f"-d{max(1, round(seconds))}s", f"--timeout={timeout_s}s",
         "-s", str(script), f"http://127.0.0.1:{port}"],
        capture_output=True, text=True, timeout=seconds + timeout_s + 30, check=False,
    )  # fmt: skip
    found = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
    if done.returncode != 0 or not found:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr[-2000:]}{done.stdout[-2000:]}")
    load = Load(**json.loads(found[-1].removeprefix("RESULT ")))
    if busy is not None and load.requests:
        load.cpu_ms = (_busy_ms() - busy) / load.requests  # type: ignore[operator]
    return load


def _busy_ms() -> float | None:
    """Milliseconds the machine's CPUs have not been idle since boot (Linux /proc/stat), or None elsewhere.
    Per request, it says what a page costs in all, whatever the machine's speed did to the latencies."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    # user, nice, system, irq, softirq: not idle, not waiting for I/O, not stolen by the host
    busy = fields[0] + fields[1] + fields[2] + sum(fields[5:7])
    return busy * 1000 / os.sysconf("SC_CLK_TCK")


def merge(parts: Sequence[Load]) -> Load:
    """Several phases of the same page as one: counts add up; p50 and p90 are request-weighted means of the
    phases' (wrk gives no raw samples); p99 and max are the worst phase's, so a judged p99 is never flattered."""
    total = sum(p.requests for p in parts) or 1

    def weighted(attr: str) -> float:
        return sum(getattr(p, attr) * p.requests for p in parts) / total

    return Load(
        requests=sum(p.requests for p in parts),
        seconds=sum(p.seconds for p in parts),
        p50=weighted("p50"),
        p90=weighted("p90"),
        p99=max((p.p99 for p in parts), default=0.0),
        max=max((p.max for p in parts), default=0.0),
        bad_status=sum(p.bad_status for p in parts),
        socket_errors=sum(p.socket_errors for p in parts),
        cpu_ms=weighted("cpu_ms"),
    )


# --- the server under load -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def session_cookie(ctx: Any, user_id: int) -> str:
    """A real server-side session for the user, in the signed cookie the app would have set at login."""
    from app.auth.models import User
    from app.auth.services import start_session

    app = ctx.app
    with app.test_request_context(), ctx.session() as s:
        raw = start_session(s, s.get(User, user_id), ip="127.0.0.1", user_agent="bench")
        s.commit()
        signed = app.session_interface.get_signing_serializer(app).dumps({"sid": raw})
    return f"{app.config['SESSION_COOKIE_NAME']}={signed}"


def get(port: int, path: str, cookie: str = "", timeout: float = 120) -> tuple[int, bytes, float]:
    """One GET on a fresh connection: status, body and seconds."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        start = time.perf_counter()
        conn.request("GET", path, headers={"Accept-Language": "zh-CN", **({"Cookie": cookie} if cookie else {})})
        response = conn.getresponse()
        body = response.read()
        return response.status, body, time.perf_counter() - start
    finally:
        conn.close()


class Server:
    """gunicorn with `workers` sync workers on 127.0.0.1 and a free port, serving `app_spec` (module:app) on
    the benchmark's database; its output goes to a log file (a pipe nobody reads could block it)."""

    def __init__(
        self, ctx: Any, app_spec: str, *, workers: int, args: Sequence[str] = (), env: dict[str, str] | None = None
    ) -> None:
        from bench.harness import ROOT

        self.port = free_port()
        self.log_path = ctx.tmp / f"gunicorn-{self.port}.log"
        self.log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--bind", f"127.0.0.1:{self.port}",
             *args, app_spec],
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
            stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if get(self.port, "/healthz", timeout=30)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gunicorn did not start:\n{self.log_path.read_text(errors='replace')[-3000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def floor_server(ctx: Any, *, workers: int) -> Server:
    """bench/_floor_app.py under the same gunicorn: one primary-key SELECT with nothing of the app around it.
    Its p99 under the same clients is the least any database page can have on this machine."""
    return Server(ctx, "bench._floor_app:app", workers=workers, args=("--log-level", "warning"),
                  env={"DATABASE_URL": ctx.url})  # fmt: skip
