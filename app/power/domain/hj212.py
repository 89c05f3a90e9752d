"""HJ 212 frames (HJ 212-2017, with the HJ 212-2025 version bits accepted): parse, check, build, acknowledge.

A frame on the wire is ``##`` + the data segment's length as 4 decimal digits + the data segment + its CRC as 4
hexadecimal digits + CR LF. The data segment is ``QN=…;ST=…;CN=…;PW=…;MN=…;Flag=…;[PNUM=…;PNO=…;]CP=&&…&&``.
Inside CP, ``;`` separates groups and ``,`` the items of one group (``DataTime=…;e30101-Cou=12.5,e30101-Flag=N``).

Flag (an integer): bit 0 (A) = the sender wants an answer; bit 1 (D) = the packet is one of several (PNUM, PNO
follow); bits 2–7 = the protocol version (1 = HJ 212-2017). Any version is parsed the same way; the answer
carries the version of the frame it answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

HEADER = "##"
TRAILER = "\r\n"
MAX_DATA_LENGTH = 1024  # HJ 212-2017 6.3.1: the data segment is 0–1024 characters

# Data uploads (field computer → host) and the answers of the host (HJ 212-2017 table 6.6 / appendix C).
CN_REALTIME = "2011"
CN_MINUTE = "2051"
CN_HOUR = "2061"
CN_DAY = "2031"
DATA_COMMANDS = {CN_REALTIME: "realtime", CN_MINUTE: "minute", CN_HOUR: "hour", CN_DAY: "day"}
CN_REQUEST_ANSWER = "9011"  # 请求应答 (QnRtn)
CN_EXECUTION_RESULT = "9012"  # 执行结果 (ExeRtn)
CN_NOTIFICATION_ANSWER = "9013"  # 通知应答
CN_DATA_ANSWER = "9014"  # 数据应答
ST_SYSTEM_INTERACTION = "91"  # 系统交互: the ST of the answers

FLAG_ANSWER_WANTED = 0b01
FLAG_SPLIT = 0b10

_QN = re.compile(r"^\d{17}$")  # YYYYMMDDhhmmsszzz
_DATA_TIME = "%Y%m%d%H%M%S"


class FrameError(ValueError):
    """A frame that cannot be accepted; the message says which part (length, CRC, field) is wrong."""


def crc16(data: bytes) -> int:
    """The CRC of HJ 212-2017 appendix A: register 0xFFFF, each byte XORed into the low byte of the register
    shifted right by 8, then 8 right shifts with 0xA001 folded in whenever the bit shifted out is 1."""
    reg = 0xFFFF
    for byte in data:
        reg = (reg >> 8) ^ byte
        for _ in range(8):
            carry = reg & 1
            reg >>= 1
            if carry:
                reg ^= 0xA001
    return reg


@dataclass(frozen=True)
class Packet:
    """One data segment, its fields as strings (the CP groups parsed)."""

    qn: str
    st: str
    cn: str
    pw: str
    mn: str
    flag: int
    cp: list[dict[str, str]] = field(default_factory=list)  # the groups of CP, each {key: value}
    pnum: int | None = None
    pno: int | None = None

    @property
    def version(self) -> int:
        return self.flag >> 2

    @property
    def wants_answer(self) -> bool:
        return bool(self.flag & FLAG_ANSWER_WANTED)

    @property
    def is_data(self) -> bool:
        return self.cn in DATA_COMMANDS

    def cp_value(self, key: str) -> str | None:
        for group in self.cp:
            if key in group:
                return group[key]
        return None

    @property
    def data_time(self) -> datetime | None:
        value = self.cp_value("DataTime")
        if value is None:
            return None
        try:
            return datetime.strptime(value, _DATA_TIME)
        except ValueError as exc:
            raise FrameError(f"DataTime「{value}」不是 YYYYMMDDhhmmss 格式的时间") from exc


def _parse_cp(text: str) -> list[dict[str, str]]:
    groups: list[dict[str, str]] = []
    for group_text in text.split(";"):
        if not group_text:
            continue
        group: dict[str, str] = {}
        for item in group_text.split(","):
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise FrameError(f"CP 中的「{item}」不是「编码=值」的形式")
            group[key] = value
        groups.append(group)
    return groups


def parse_segment(segment: str) -> Packet:
    """Parse a data segment (without header, length, CRC, trailer)."""
    head, sep, rest = segment.partition("CP=&&")
    if not sep or not rest.endswith("&&"):
        raise FrameError("数据段缺少「CP=&&…&&」")
    fields: dict[str, str] = {}
    for item in head.split(";"):
        if not item:
            continue
        key, eq, value = item.partition("=")
        if not eq:
            raise FrameError(f"数据段中的「{item}」不是「字段=值」的形式")
        fields[key] = value
    missing = [key for key in ("ST", "CN", "MN", "Flag") if key not in fields]
    if missing:
        raise FrameError(f"数据段缺少字段：{'、'.join(missing)}")
    qn = fields.get("QN", "")
    if qn and not _QN.match(qn):
        raise FrameError(f"QN「{qn}」不是 17 位的请求编码（年月日时分秒毫秒）")
    try:
        flag = int(fields["Flag"])
        pnum = int(fields["PNUM"]) if "PNUM" in fields else None
        pno = int(fields["PNO"]) if "PNO" in fields else None
    except ValueError as exc:
        raise FrameError("Flag、PNUM、PNO 须为整数") from exc
    if flag & FLAG_SPLIT and (pnum is None or pno is None):
        raise FrameError("Flag 标明拆分包，但缺少 PNUM 或 PNO")
    return Packet(qn=qn, st=fields["ST"], cn=fields["CN"], pw=fields.get("PW", ""), mn=fields["MN"], flag=flag,
                  cp=_parse_cp(rest[:-2]), pnum=pnum, pno=pno)  # fmt: skip


def parse_frame(frame: bytes | str) -> Packet:
    """Check a whole frame (header, length, CRC, trailer) and parse its data segment."""
    raw = frame.encode("utf-8") if isinstance(frame, str) else frame
    if not raw.startswith(b"##"):
        raise FrameError("包头不是「##」")
    if not raw.endswith(b"\r\n"):
        raise FrameError("包尾不是回车换行")
    length_text = raw[2:6]
    if not length_text.isdigit() or len(length_text) != 4:
        raise FrameError("数据段长度不是 4 位十进制数")
    length = int(length_text)
    if length > MAX_DATA_LENGTH:
        raise FrameError(f"数据段长度 {length} 超过 {MAX_DATA_LENGTH}")
    body = raw[6:-2]
    if len(body) != length + 4:
        raise FrameError(f"数据段长度应为 {length}，实际为 {len(body) - 4}")
    segment, crc_text = body[:length], body[length:]
    try:
        crc = int(crc_text, 16)
    except ValueError as exc:
        raise FrameError("CRC 不是 4 位十六进制数") from exc
    expected = crc16(segment)
    if crc != expected:
        raise FrameError(f"CRC 校验失败：应为 {expected:04X}，收到 {crc_text.decode('ascii', 'replace')}")
    try:
        text = segment.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FrameError("数据段不是有效的文本") from exc
    return parse_segment(text)


def frame(segment: str) -> bytes:
    """Wrap a data segment into a frame: header, length, CRC, trailer."""
    data = segment.encode("utf-8")
    if len(data) > MAX_DATA_LENGTH:
        raise FrameError(f"数据段长度 {len(data)} 超过 {MAX_DATA_LENGTH}，须拆分")
    return b"##" + f"{len(data):04d}".encode() + data + f"{crc16(data):04X}".encode() + b"\r\n"


def segment(packet: Packet) -> str:
    parts = [f"QN={packet.qn}"] if packet.qn else []
    parts += [f"ST={packet.st}", f"CN={packet.cn}", f"PW={packet.pw}", f"MN={packet.mn}", f"Flag={packet.flag}"]
    if packet.pnum is not None and packet.pno is not None:
        parts += [f"PNUM={packet.pnum}", f"PNO={packet.pno}"]
    cp = ";".join(",".join(f"{k}={v}" for k, v in group.items()) for group in packet.cp)
    return ";".join(parts) + f";CP=&&{cp}&&"


def build(packet: Packet) -> bytes:
    return frame(segment(packet))


def answer(packet: Packet) -> Packet | None:
    """The host's answer the standard asks for, or None when the sender wants none (Flag bit A is 0).

    Data uploads are answered with 9014 (数据应答, same QN); requests and notifications with 9011 / 9013
    (QnRtn=1, ready to execute). Answers themselves want no answer (A = 0) and keep the sender's version."""
    if not packet.wants_answer:
        return None
    flag = packet.flag & ~(FLAG_ANSWER_WANTED | FLAG_SPLIT)
    common = {"qn": packet.qn, "st": ST_SYSTEM_INTERACTION, "pw": packet.pw, "mn": packet.mn, "flag": flag}
    if packet.is_data:
        return Packet(cn=CN_DATA_ANSWER, cp=[], **common)
    if packet.cn.startswith("90"):
        return None  # an answer is never answered
    return Packet(cn=CN_REQUEST_ANSWER, cp=[{"QnRtn": "1"}], **common)


def execution_result(packet: Packet, ok: bool) -> Packet:
    """9012 after a request has run: ExeRtn 1 = success, 2 = failed (no reason given)."""
    flag = packet.flag & ~(FLAG_ANSWER_WANTED | FLAG_SPLIT)
    return Packet(qn=packet.qn, st=ST_SYSTEM_INTERACTION, cn=CN_EXECUTION_RESULT, pw=packet.pw, mn=packet.mn,
                  flag=flag, cp=[{"ExeRtn": "1" if ok else "2"}])  # fmt: skip


@dataclass(frozen=True)
class FactorValue:
    """One factor's value in a data packet: ``e30101-Cou=12.5`` with its ``-Flag`` (N = normal)."""

    code: str
    field: str  # Rtd | Cou | Avg | Min | Max
    value: float
    flag: str


def factor_values(packet: Packet) -> list[FactorValue]:
    """The numeric values of a data packet, with each factor's data flag (N when none is given)."""
    values: list[FactorValue] = []
    flags: dict[str, str] = {}
    for group in packet.cp:
        for key, value in group.items():
            code, dash, suffix = key.rpartition("-")
            if dash and suffix == "Flag":
                flags[code] = value
    for group in packet.cp:
        for key, value in group.items():
            code, dash, suffix = key.rpartition("-")
            if not dash or suffix not in ("Rtd", "Cou", "Avg", "Min", "Max"):
                continue
            try:
                number = float(value)
            except ValueError as exc:
                raise FrameError(f"因子 {code} 的 {suffix} 值「{value}」不是数字") from exc
            values.append(FactorValue(code=code, field=suffix, value=number, flag=flags.get(code, "N")))
    return values


class StreamBuffer:
    """Cut a TCP byte stream into frames (a frame may arrive in pieces, several in one read)."""

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        frames: list[bytes] = []
        while True:
            start = self._buf.find(b"##")
            if start < 0:
                self._buf = self._buf[-1:] if self._buf.endswith(b"#") else b""
                return frames
            end = self._buf.find(b"\r\n", start)
            if end < 0:
                self._buf = self._buf[start:]
                if len(self._buf) > MAX_DATA_LENGTH + 16:
                    self._buf = b""  # garbage without a trailer: drop it
                return frames
            frames.append(self._buf[start : end + 2])
            self._buf = self._buf[end + 2 :]
