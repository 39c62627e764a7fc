"""The validators every area's system checks share: what counts as a number, an int, a URL,
and the message for unknown keys."""

from __future__ import annotations

from fractions import Fraction

import pytest

from django_interlink.check_helpers import (
    at_least,
    http_url,
    number,
    positive_int,
    positive_number,
    unknown_keys,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(3, 3.0), (0.5, 0.5), (Fraction(1, 4), 0.25), (True, None), ("3", None), (None, None)],
)
def test_number_takes_real_numbers_but_not_bools_or_strings(value, expected):
    assert number(value) == expected


def test_at_least_is_inclusive_unless_strict():
    assert at_least(0, 0)
    assert not at_least(0, 0, strict=True)
    assert at_least(0.01, 0, strict=True)
    assert not at_least(-1, 0)
    assert not at_least(False, 0)
    assert not at_least("5", 0)


@pytest.mark.parametrize(("value", "expected"), [(1, True), (0.5, True), (0, False), (-2, False)])
def test_positive_number(value, expected):
    assert positive_number(value) is expected


@pytest.mark.parametrize(
    ("value", "expected"), [(1, True), (7, True), (0, False), (1.0, False), (True, False)]
)
def test_positive_int_wants_an_int_of_one_or_more(value, expected):
    assert positive_int(value) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("http://users:8001", True),
        ("https://10.0.0.5/health/ready/", True),
        ("ftp://files", False),
        ("http://", False),
        ("users:8001", False),
        (None, False),
    ],
)
def test_http_url_wants_scheme_and_host(value, expected):
    assert http_url(value) is expected


def test_unknown_keys_names_them_sorted_with_the_known_ones_as_hint():
    error = unknown_keys("INTERLINK['X']", {"B": 1, "Z": 2, "A": 3}, ["B", "C"], "E099")
    assert error is not None
    assert error.id == "interlink.E099"
    assert error.msg == "INTERLINK['X'] has unknown keys: A, Z."
    assert error.hint == "Known keys: B, C."


def test_unknown_keys_is_none_without_unknown_keys_and_takes_a_hint():
    assert unknown_keys("W", {"B": 1}, {"B": 0, "C": 0}, "E001") is None
    error = unknown_keys("W", ["Q"], [], "E001", hint="See conf.py.")
    assert error is not None
    assert error.hint == "See conf.py."
