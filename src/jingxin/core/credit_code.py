"""Unified social credit code (统一社会信用代码, GB 32100-2015).

Every enterprise in the platform is keyed by this 18-character code. A code whose check
character is wrong is bad input, never a key.
"""

from __future__ import annotations

import random

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
# Weight of position i is 3^i mod 31 (positions 0..16); the 18th character is the check.
WEIGHTS = tuple(pow(3, i, 31) for i in range(17))

# Organisation code (组织机构代码, GB 11714): 8 body characters and a check character.
_ORG_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def check_character(first17: str) -> str:
    """The 18th character for the first 17 (GB 32100-2015 §5)."""
    total = sum(_VALUE[ch] * w for ch, w in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def is_valid(code: object) -> bool:
    """True when `code` is 18 characters of the allowed set with a correct check character."""
    if not isinstance(code, str) or len(code) != 18:
        return False
    if any(ch not in _VALUE for ch in code):
        return False
    return check_character(code[:17]) == code[17]


def explain_invalid(code: object) -> str | None:
    """A reason in Chinese why `code` is not a valid credit code, or None when it is valid."""
    if not isinstance(code, str) or not code:
        return "统一社会信用代码为空"
    if len(code) != 18:
        return f"统一社会信用代码应为18位，实为{len(code)}位"
    bad = sorted({ch for ch in code if ch not in _VALUE})
    if bad:
        return f"统一社会信用代码含非法字符：{''.join(bad)}（不得使用I、O、Z、S、V）"
    expected = check_character(code[:17])
    if expected != code[17]:
        return f"统一社会信用代码校验位错误：应为{expected}，实为{code[17]}"
    return None


def _org_check(body: str) -> str:
    total = sum(_ORG_ALPHABET.index(ch) * w for ch, w in zip(body, _ORG_WEIGHTS, strict=True))
    value = 11 - total % 11
    return {10: "X", 11: "0"}.get(value, str(value))


def generate(division_code: str, rng: random.Random, registrar: str = "9", entity: str = "1") -> str:
    """A valid code for an enterprise (9 = market regulation, 1 = enterprise) registered in
    `division_code`. The organisation-code part carries its own GB 11714 check character."""
    body = "".join(rng.choice("0123456789") for _ in range(8))
    org = body + _org_check(body)
    first17 = f"{registrar}{entity}{division_code}{org}"
    return first17 + check_character(first17)
