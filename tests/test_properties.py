"""Property tests (hypothesis) for coercion and masking: they never raise on any string or
number, masking is idempotent and leaves no detectable personal data, and a date formatted
the way the tool writes it parses back to itself."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aftersales_xl import coerce
from aftersales_xl.config import load_policy
from aftersales_xl.masking import CONTACT, NAME, TEXT, mask_value
from aftersales_xl.pii import find_pii

POLICY = load_policy(search_cwd=False)
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

phones = st.from_regex(r"1[3-9]\d{9}", fullmatch=True)
emails = st.from_regex(r"[a-z][a-z0-9._]{0,10}@[a-z]{1,8}\.(com|cn|net)", fullmatch=True)
contact_like = st.one_of(
    phones,
    emails,
    st.builds(lambda a, b: f"{a} {b}", phones, emails),
    st.builds(lambda a, b: f"电话{a}，邮箱{b}", phones, emails),
)
cell_values = st.one_of(
    st.text(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    contact_like,
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1)),
)


@SETTINGS
@given(cell_values)
def test_coercion_never_raises(value) -> None:
    coerce.to_text(value)
    coerce.as_text(value)
    coerce.is_missing(value)
    coerce.parse_datetime(value)
    coerce.parse_datetime(value, date1904=True)
    coerce.normalise_choice(value, ["电话", "邮件", "P1"])
    coerce.parse_rating(value, 1, 5)


@pytest.mark.parametrize("kind", [NAME, CONTACT, TEXT])
@SETTINGS
@given(value=cell_values)
def test_masking_never_raises_and_is_idempotent(kind: str, value) -> None:
    once = mask_value(kind, value, POLICY)
    assert isinstance(once, str)
    assert mask_value(kind, once, POLICY) == once


@pytest.mark.parametrize("kind", [CONTACT, TEXT])
@SETTINGS
@given(value=contact_like)
def test_masked_contacts_hold_no_phone_or_email(kind: str, value: str) -> None:
    masked = mask_value(kind, value, POLICY)
    assert list(find_pii(masked)) == []


@SETTINGS
@given(st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 12, 31)))
def test_a_formatted_date_parses_back_to_itself(moment: datetime) -> None:
    moment = moment.replace(microsecond=0)
    for text in (
        moment.strftime("%Y-%m-%d %H:%M:%S"),
        coerce.as_text(moment),
    ):
        parsed = coerce.parse_datetime(text)
        expected = moment if text.count(":") == 2 else moment.replace(second=0)
        assert parsed == expected, text
    minutes = moment.replace(second=0)
    for text in (
        minutes.strftime("%Y-%m-%d %H:%M"),
        minutes.strftime("%Y/%m/%d %H:%M"),
        f"{minutes.year}年{minutes.month}月{minutes.day}日 {minutes:%H:%M}",
    ):
        assert coerce.parse_datetime(text) == minutes, text
