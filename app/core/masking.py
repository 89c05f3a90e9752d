"""The one way a phone number is masked, on the screens, in the exports and in the API.

A number keeps its length and at most its last four characters; one of eleven characters or more (a mobile
number, 138****5678) also keeps its first three. A shorter one keeps at most a third of its characters, at
the end, so that at least two thirds are always hidden: 023-1234 → ******34, 12345 → ****5, 123456 → ****56.
"""

from __future__ import annotations

MOBILE = 11  # characters from which the first three are shown too


def mask_phone(phone: str | None) -> str:
    text = (phone or "").strip()
    n = len(text)
    head = 3 if n >= MOBILE else 0
    tail = 4 if n >= MOBILE else min(4, n // 3)
    return text[:head] + "*" * (n - head - tail) + text[n - tail :]
