"""The one phone mask (app/core/masking.py), for every length from 0 to 20: the screens, the export and the
API call it (tests/reduction/test_lists.py, test_excel_export.py, test_reduction_api.py check each path)."""

from __future__ import annotations

import pytest

from app.core.masking import mask_phone

LENGTHS = range(21)


def number(n: int) -> str:
    return "".join(str((i + 1) % 10) for i in range(n))


@pytest.mark.parametrize("n", LENGTHS)
def test_mask_keeps_the_length_and_hides_most(n: int) -> None:
    phone = number(n)
    masked = mask_phone(phone)
    assert len(masked) == n
    shown = [i for i, c in enumerate(masked) if c != "*"]
    assert all(masked[i] == phone[i] for i in shown)  # what is shown is where it was
    if n:
        assert masked != phone
        assert masked.count("*") >= (4 if n >= 11 else n - n // 3)  # at least two thirds hidden below 11


def test_the_known_forms() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("023-1234") == "******34"
    assert mask_phone("12345") == "****5" and mask_phone("123456") == "****56"  # issue 11: the export differed
    assert mask_phone("") == "" and mask_phone(None) == ""
