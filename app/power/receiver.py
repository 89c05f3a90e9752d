"""The HJ 212 receiver (`flask power receive`): sub-metering devices connect over TCP and upload data packets.

Each connection's byte stream is cut into frames (`hj212.StreamBuffer`); a frame whose length or CRC is wrong is
refused and not answered (the device sends it again); a data packet of a registered device (`power_device`: its
MN, each factor code's meter) goes through the same path as the upload and the API (`rows_of_packets`, then
`store`, source `hj212`), committed, then answered as the standard says (`hj212.answer`: 9014 with the packet's
QN when its Flag asks for an answer). A packet of an unknown device, or naming a factor no meter has, is refused,
counted on the device, and not answered. Every frame moves the device's `last_heard_at`.
"""

from __future__ import annotations

import logging
import socket
import socketserver
import threading
from collections.abc import Callable
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.scoping import Scope, set_scope
from app.db import utcnow
from app.extensions import db
from app.power.domain import hj212
from app.power.domain.factors import Factor, load_factors
from app.power.domain.rows import RowsError, rows_of_packets
from app.power.models import PowerDevice
from app.power.store import store

log = logging.getLogger(__name__)


class Receiver:
    """What the server does with frames: store the data, say what to answer. One session per frame."""

    def __init__(self, new_session: Callable[[], Session], factors: dict[str, Factor] | None = None) -> None:
        self.new_session = new_session
        self.factors = factors or load_factors()

    def handle(self, frame: bytes) -> bytes | None:
        """The answer to send back for one frame, or None."""
        try:
            packet = hj212.parse_frame(frame)
        except hj212.FrameError as e:
            log.warning("HJ 212 frame refused: %s", e)
            return None
        s = self.new_session()
        try:
            device = s.scalar(select(PowerDevice).where(PowerDevice.mn == packet.mn))
            if device is None:
                log.warning("HJ 212 packet of unknown device %s refused", packet.mn)
                return None
            device.last_heard_at = utcnow()
            device.frames += 1
            ok = True
            if packet.is_data:
                try:
                    batch = rows_of_packets([packet], {device.mn: dict(device.factors)}, self.factors)
                except RowsError as e:
                    log.warning("HJ 212 packet of %s refused: %s", device.mn, "; ".join(e.problems))
                    device.refused += 1
                    ok = False
                else:
                    store(s, batch, "hj212")
                    if len(batch):
                        at = batch.frame["at"].max().tz_localize("Asia/Shanghai").to_pydatetime()
                        if device.last_data_at is None or at > device.last_data_at:
                            device.last_data_at = at
            s.commit()
        except Exception:
            s.rollback()
            log.exception("HJ 212 packet of %s not stored", packet.mn)
            return None
        finally:
            s.close()
        reply = hj212.answer(packet) if ok else None
        return hj212.build(reply) if reply is not None else None


class _Handler(socketserver.BaseRequestHandler):
    server: Server

    def handle(self) -> None:
        buffer = hj212.StreamBuffer()
        self.request.settimeout(self.server.idle_seconds)
        while True:
            try:
                data = self.request.recv(4096)
            except (TimeoutError, ConnectionError, OSError):
                return
            if not data:
                return
            for frame in buffer.feed(data):
                with self.server.app.app_context():
                    answer = self.server.receiver.handle(frame)
                if answer is not None:
                    self.request.sendall(answer)


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, app: Flask, address: tuple[str, int], idle_seconds: float = 600.0,
                 receiver: Receiver | None = None) -> None:  # fmt: skip
        self.app = app
        self.idle_seconds = idle_seconds
        self.receiver = receiver or Receiver(operator_session)
        super().__init__(address, _Handler)


def operator_session() -> Session:
    """A device is no user: its packets are stored with the operator's scope (the device names its meters)."""
    s = db.session_factory()
    set_scope(s, Scope.everything())
    return s


def start(app: Flask, host: str = "127.0.0.1", port: int = 0, **kw: Any) -> tuple[Server, threading.Thread]:
    """A server in a background thread (tests, or a process embedding it); port 0 picks a free one."""
    server = Server(app, (host, port), **kw)
    thread = threading.Thread(target=server.serve_forever, name="hj212-receiver", daemon=True)
    thread.start()
    return server, thread


def send(host: str, port: int, frames: list[bytes], *, timeout: float = 10.0) -> list[bytes | None]:
    """A device's side: send frames over one connection and wait for the answer of each; None for a frame that
    got none within `timeout` seconds (a refused frame, or one whose Flag asks for no answer: not waited for)."""
    answers: list[bytes | None] = []
    with socket.create_connection((host, port), timeout=timeout) as sock:
        buffer = hj212.StreamBuffer()
        for wire in frames:
            sock.sendall(wire)
            try:
                wants = hj212.parse_frame(wire).wants_answer
            except hj212.FrameError:
                wants = True  # a broken frame: the device waits like for any other
            if not wants:
                answers.append(None)
                continue
            got: list[bytes] = []
            try:
                while not got:
                    data = sock.recv(4096)
                    if not data:
                        break
                    got = buffer.feed(data)
            except TimeoutError:
                pass
            answers.append(got[0] if got else None)
    return answers
