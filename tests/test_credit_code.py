import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jingxin.core import credit_code as cc


@pytest.mark.parametrize(
    "code",
    ["91330100799655058B", "91110000802100433B", "91330000MA27U0Q95T"[:17] + "P"],
)
def test_published_codes_validate(code):
    assert cc.is_valid(code)
    assert cc.explain_invalid(code) is None


def test_weights_are_powers_of_three_mod_31():
    assert cc.WEIGHTS == (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("", "为空"),
        ("9133010079965505", "应为18位"),
        ("91330100799655058O", "非法字符"),
        ("91330100799655058A", "校验位错误：应为B"),
    ],
)
def test_invalid_codes_are_explained(code, reason):
    assert not cc.is_valid(code)
    assert reason in cc.explain_invalid(code)


@given(st.integers(min_value=0, max_value=2**32), st.sampled_from(["330102", "330783", "331127"]))
def test_generated_codes_are_valid_and_carry_their_division(seed, division):
    code = cc.generate(division, random.Random(seed))
    assert cc.is_valid(code)
    assert code[2:8] == division
    assert code[:2] == "91"


@given(st.integers(min_value=0, max_value=2**32), st.integers(min_value=0, max_value=16))
def test_any_single_character_change_is_detected(seed, position):
    code = cc.generate("330102", random.Random(seed))
    for ch in cc.ALPHABET:
        if ch != code[position]:
            changed = code[:position] + ch + code[position + 1 :]
            assert not cc.is_valid(changed)
