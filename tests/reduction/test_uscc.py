"""Unified social credit codes: real codes, their check digits worked by hand, and broken variants."""

from __future__ import annotations

import pytest

from app.reduction.domain import uscc

# Published codes of real organisations.
KNOWN = ["91350100M000100Y43", "91110000600037341L"]


@pytest.mark.parametrize("code", KNOWN)
def test_known_codes_are_valid(code: str) -> None:
    assert uscc.problems(code) == []
    assert uscc.validate(code) == code
    assert uscc.is_valid(code)


def test_check_digits_by_hand() -> None:
    # 91110000600037341L — organisation code 60003734-1 (GB 11714, weights 3 7 9 10 5 8 4 2):
    # 6·3 + 0 + 0 + 0 + 3·5 + 7·8 + 3·4 + 4·2 = 109; 109 mod 11 = 10; 11 − 10 = 1.
    assert uscc.org_check_digit("60003734") == "1"
    # Final digit (weights 3^(i−1) mod 31): 9·1 + 1·3 + 1·9 + 1·27 + 6·20 + 3·8 + 7·24 + 3·10 + 4·30 + 1·28
    # = 538; 538 mod 31 = 11; 31 − 11 = 20 → "L" (0–9, then A B C D E F G H J K L).
    assert uscc.WEIGHTS == (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
    assert uscc.check_digit("91110000600037341") == "L"
    # 91350100M000100Y43 — organisation code M000100Y-4 with letters counted A = 10 (M = 22, Y = 34):
    # 22·3 + 1·5 + 34·2 = 139; 139 mod 11 = 7; 11 − 7 = 4.
    assert uscc.org_check_digit("M000100Y") == "4"
    # Final digit with the code's own alphabet (no I, O: M = 21, Y = 30):
    # 9 + 3 + 3·9 + 5·27 + 1·26 + 21·20 + 1·8 + 30·30 + 4·28 = 1640; 1640 mod 31 = 28; 31 − 28 = 3.
    assert uscc.check_digit("91350100M000100Y4") == "3"


def test_org_check_digit_x_and_zero() -> None:
    # remainder 1 → 11 − 1 = 10 → "X"; remainder 0 → 11 → "0"
    body_x = next(b for b in (f"{n:08d}" for n in range(1000)) if uscc.org_check_digit(b) == "X")
    total = sum(int(c) * w for c, w in zip(body_x, uscc.ORG_WEIGHTS, strict=True))
    assert total % 11 == 1
    assert uscc.org_check_digit("00000000") == "0"


def test_normalise_full_width_spaces_and_case() -> None:
    raw = " ９１１１ ００００６０００３７３４１ｌ\u3000"
    assert uscc.normalise(raw) == "91110000600037341L"
    assert uscc.validate(raw) == "91110000600037341L"
    assert uscc.validate("91350100m000100y43") == "91350100M000100Y43"


def test_wrong_length() -> None:
    with pytest.raises(uscc.UsccError) as e:
        uscc.validate("9111000060003734")
    assert str(e.value) == "统一社会信用代码应为18位，实际为16位"
    with pytest.raises(uscc.UsccError, match="不能为空"):
        uscc.validate("   ")


@pytest.mark.parametrize("bad", ["I", "O", "Z", "S", "V"])
def test_excluded_letters(bad: str) -> None:
    code = "9111000060003734" + bad + "L"
    assert uscc.problems(code) == [
        f"第17位“{bad}”不是统一社会信用代码允许的字符（数字及除I、O、Z、S、V以外的大写字母）"
    ]


def test_final_check_digit() -> None:
    assert uscc.problems("91110000600037341K") == ["第18位校验码应为“L”，实际为“K”"]
    assert not uscc.is_valid("91350100M000100Y44")


def test_organisation_code_check_digit_alone() -> None:
    # a wrong GB 11714 digit with a final digit recomputed over it: only the organisation code is named
    first17 = "91110000600037342"
    code = first17 + uscc.check_digit(first17)
    assert uscc.problems(code) == ["第9–17位组织机构代码“600037342”的校验码（第17位）应为“1”，实际为“2”"]


def test_registration_department_and_kind() -> None:
    first17 = "X1110000600037341"
    assert uscc.problems(first17 + uscc.check_digit(first17)) == [
        "第1位登记管理部门代码“X”无效，应为1、2、3、4、5、6、7、8、9、A、N、Y之一"
    ]
    first17 = "94110000600037341"
    assert uscc.problems(first17 + uscc.check_digit(first17)) == [
        "第2位机构类别代码“4”对登记管理部门“工商”（9）无效，应为1、2、3之一"
    ]
    first17 = "51110000600037341"  # 民政 / 社会团体 is fine
    assert uscc.problems(first17 + uscc.check_digit(first17)) == []


def test_region_code() -> None:
    first17 = "91990000600037341"
    assert uscc.problems(first17 + uscc.check_digit(first17)) == [
        "第3–8位登记管理机关行政区划码“990000”的前两位“99”不是省级行政区划代码"
    ]


def test_typo_names_both_check_digits() -> None:
    found = uscc.problems("91110000600037342L")
    assert len(found) == 2 and "第9–17位" in found[0] and "第18位校验码应为“P”" in found[1]


def test_generator_is_deterministic_and_valid() -> None:
    assert uscc.generate(7) == uscc.generate(7) == "91500000MAAY4CL122"
    assert uscc.generate(8) != uscc.generate(7)
    assert uscc.generate(3, region="510104").startswith("91510104MA")
    codes = uscc.generate_many(2000, seed=1)
    assert len(set(codes)) == 2000 and codes == uscc.generate_many(2000, seed=1)
    assert all(uscc.is_valid(c) for c in codes)
    with pytest.raises(uscc.UsccError, match="行政区划码"):
        uscc.generate(1, region="990000")
