"""Unified social credit code (统一社会信用代码, GB 32100-2015): normalise, validate, generate.

Layout of the 18 characters: 1 registration-management department, 2 organisation kind, 3–8 the
registering authority's administrative-division code (GB/T 2260), 9–17 the organisation code (GB 11714,
its own check digit last), 18 the check digit over the first 17.
"""

from __future__ import annotations

import random
import re
import unicodedata
from operator import mul

# 31 characters: digits and capitals without I, O, Z, S, V (they read like 1, 0, 2, 5, U)
CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {c: i for i, c in enumerate(CHARSET)}
_ALLOWED = frozenset(CHARSET)
WEIGHTS = tuple(pow(3, i, 31) for i in range(17))  # 1, 3, 9, 27, 19, 26, 16, …

# GB 11714 weighs the organisation code's 8 body characters; letters count from A = 10 over the full alphabet.
ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_VALUE = {c: int(c) if c.isdigit() else ord(c) - ord("A") + 10 for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"}

# GB 32100-2015 table 1 (with its amendments): registration department → organisation kinds it may issue.
DEPARTMENTS: dict[str, tuple[str, dict[str, str]]] = {
    "1": ("机构编制", {"1": "机关", "2": "事业单位", "3": "中央编办直接管理机构编制的群众团体", "9": "其他"}),
    "2": ("外交", {"1": "外国常驻新闻机构", "9": "其他"}),
    "3": ("司法行政", {"1": "律师执业机构", "2": "公证处", "3": "基层法律服务所", "4": "司法鉴定机构",
                     "5": "仲裁委员会", "9": "其他"}),
    "4": ("文化", {"1": "外国在华文化中心", "9": "其他"}),
    "5": ("民政", {"1": "社会团体", "2": "民办非企业单位", "3": "基金会", "9": "其他"}),
    "6": ("旅游", {"1": "外国旅游部门常驻代表机构", "2": "港澳台地区旅游部门常驻内地（大陆）代表机构",
                 "9": "其他"}),
    "7": ("宗教", {"1": "宗教活动场所", "2": "宗教院校", "9": "其他"}),
    "8": ("工会", {"1": "基层工会", "9": "其他"}),
    "9": ("工商", {"1": "企业", "2": "个体工商户", "3": "农民专业合作社"}),
    "A": ("中央军委改革和编制办公室", {"1": "军队事业单位", "9": "其他"}),
    "N": ("农业", {"1": "组级集体经济组织", "2": "村级集体经济组织", "3": "乡镇级集体经济组织", "9": "其他"}),
    "Y": ("其他", {"1": "其他"}),
}  # fmt: skip

# First two digits of a GB/T 2260 code: provinces, plus 10 for authorities registering at national level.
PROVINCES = frozenset({
    "10", "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41",
    "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71", "81",
    "82",
})  # fmt: skip
_SPACES = re.compile(r"\s+")


class UsccError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("；".join(problems))
        self.problems = problems


def normalise(raw: str) -> str:
    """Full-width to half-width (NFKC), no whitespace anywhere (pasted codes carry spaces), upper case."""
    return _SPACES.sub("", unicodedata.normalize("NFKC", raw)).upper()


def check_digit(first17: str) -> str:
    """The 18th character for 17 characters from CHARSET."""
    if len(first17) != 17:
        raise ValueError("check_digit needs 17 characters")
    total = sum(map(mul, map(_VALUE.__getitem__, first17), WEIGHTS))  # an import checks 100,000 of them
    return CHARSET[(31 - total % 31) % 31]


def org_check_digit(body: str) -> str:
    """GB 11714 check character for the 8-character organisation code body: 0–9 or X."""
    if len(body) != 8:
        raise ValueError("org_check_digit needs 8 characters")
    try:
        total = sum(map(mul, map(_ORG_VALUE.__getitem__, body), ORG_WEIGHTS))
    except KeyError:
        total = sum(_org_value(c) * w for c, w in zip(body, ORG_WEIGHTS, strict=True))
    value = 11 - total % 11
    return {10: "X", 11: "0"}.get(value, str(value))


def _org_value(c: str) -> int:
    return int(c) if c.isdigit() else ord(c) - ord("A") + 10


def problems(code: str) -> list[str]:
    """Every problem of an already normalised code, in Chinese, naming the positions; empty when valid."""
    if len(code) != 18:
        return [f"统一社会信用代码应为18位，实际为{len(code)}位"]
    bad = [] if _ALLOWED.issuperset(code) else [f"第{i}位“{c}”" for i, c in enumerate(code, start=1) if c not in _VALUE]
    if bad:
        return [f"{'、'.join(bad)}不是统一社会信用代码允许的字符（数字及除I、O、Z、S、V以外的大写字母）"]
    found: list[str] = []
    department = DEPARTMENTS.get(code[0])
    if department is None:
        found.append(f"第1位登记管理部门代码“{code[0]}”无效，应为{'、'.join(DEPARTMENTS)}之一")
    else:
        name, kinds = department
        if code[1] not in kinds:
            found.append(
                f"第2位机构类别代码“{code[1]}”对登记管理部门“{name}”（{code[0]}）无效，应为{'、'.join(kinds)}之一"
            )
    region = code[2:8]
    if not region.isdigit():
        found.append(f"第3–8位登记管理机关行政区划码“{region}”应为6位数字")
    elif region[:2] not in PROVINCES:
        found.append(f"第3–8位登记管理机关行政区划码“{region}”的前两位“{region[:2]}”不是省级行政区划代码")
    org = code[8:17]
    expected_org = org_check_digit(org[:8])
    if org[8] != expected_org:
        found.append(f"第9–17位组织机构代码“{org}”的校验码（第17位）应为“{expected_org}”，实际为“{org[8]}”")
    expected = check_digit(code[:17])
    if code[17] != expected:
        found.append(f"第18位校验码应为“{expected}”，实际为“{code[17]}”")
    return found


def validate(raw: str) -> str:
    """The normalised code, or UsccError whose message names every problem."""
    code = normalise(raw)
    if not code:
        raise UsccError(["统一社会信用代码不能为空"])
    found = problems(code)
    if found:
        raise UsccError(found)
    return code


def is_valid(raw: str) -> bool:
    code = normalise(raw)
    return bool(code) and not problems(code)


def generate(seed: int, region: str = "500000", department: str = "9", kind: str = "1") -> str:
    """A valid code, the same for the same arguments: for tests and demo data.

    The organisation code body starts with "MA" like the codes issued since 2015, then six characters drawn
    from CHARSET; both check digits are computed.
    """
    rng = random.Random(seed)
    body = "MA" + "".join(rng.choice(CHARSET) for _ in range(6))
    first17 = department + kind + region + body + org_check_digit(body)
    code = first17 + check_digit(first17)
    found = problems(code)
    if found:  # a bad region or department argument
        raise UsccError(found)
    return code


def generate_many(count: int, seed: int = 0, region: str = "500000") -> list[str]:
    """`count` distinct valid codes in a fixed order."""
    codes: dict[str, None] = {}
    n = 0
    while len(codes) < count:
        codes.setdefault(generate(seed * 1_000_003 + n, region), None)
        n += 1
    return list(codes)
