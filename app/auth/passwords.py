"""Password policy (等保 2.0 level 3 / ASVS L2) and hashing."""

from __future__ import annotations

import re
from functools import cache

from flask_babel import lazy_gettext as _l
from werkzeug.security import check_password_hash, generate_password_hash

MIN_LENGTH = 8
MAX_LENGTH = 128
# Passwords bureaus' staff actually choose that pass the class rule; zxcvbn's list covers the rest.
LOCAL_COMMON = {
    "p@ssw0rd", "passw0rd", "admin@123", "admin123", "abc@123", "abc@1234", "abcd@1234", "aa123456", "a123456",
    "qwe@123", "qwer@1234", "qwer1234", "1qaz@wsx", "1qaz2wsx", "zaq1@wsx", "woaini1314", "woaini520",
    "huanbao123", "huanbao@123", "sthj@123", "test@123", "root@123", "welcome1", "changeme1", "password1",
}  # fmt: skip
LEET = str.maketrans({"@": "a", "4": "a", "0": "o", "1": "l", "3": "e", "$": "s", "5": "s", "!": "i", "7": "t"})


@cache
def _common() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"]) | LOCAL_COMMON


def _classes(password: str) -> int:
    return sum(bool(re.search(p, password)) for p in (r"[a-z]", r"[A-Z]", r"[0-9]", r"[^A-Za-z0-9]"))


def policy_errors(password: str, username: str = "") -> list[str]:
    """Every rule the password breaks, as messages for the user; empty when it is acceptable."""
    errors: list[str] = []
    if len(password) < MIN_LENGTH:
        errors.append(str(_l("密码至少 %(n)d 个字符。", n=MIN_LENGTH)))
    if len(password) > MAX_LENGTH:
        errors.append(str(_l("密码最多 %(n)d 个字符。", n=MAX_LENGTH)))
    if _classes(password) < 3:
        errors.append(str(_l("密码须包含大写字母、小写字母、数字、符号中的至少三类。")))
    lowered = password.lower()
    stripped = re.sub(r"[^a-z0-9@$!]+$", "", lowered)
    candidates = {lowered, stripped, lowered.translate(LEET), re.sub(r"\d+$", "", lowered)}
    if candidates & _common():
        errors.append(str(_l("该密码过于常见，请换一个。")))
    if username and username.lower() in lowered:
        errors.append(str(_l("密码不能包含用户名。")))
    return errors


def hash_password(password: str) -> str:
    return generate_password_hash(password, method="scrypt")


def verify_password(password_hash: str, password: str) -> bool:
    return check_password_hash(password_hash, password)


# Compared against when the username is unknown, so that timing does not reveal which accounts exist.
DUMMY_HASH = generate_password_hash("unused-dummy-password-Aa1!", method="scrypt")
