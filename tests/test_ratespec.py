"""Rate specs as people type them: parsing, normalising, printing and the errors they see."""

from __future__ import annotations

import pytest

from engine.errors import UsageError
from engine.limits.ratespec import RateRule, RateSpec, parse_rate


@pytest.mark.parametrize(
    ("text", "rules"),
    [
        ("300/min", [(300, 60.0)]),
        ("50/s", [(50, 1.0)]),
        ("10/2s", [(10, 2.0)]),
        ("7/1.5s", [(7, 1.5)]),
        ("1000/h", [(1000, 3600.0)]),
        ("20000/day", [(20000, 86400.0)]),
        (" 5 / s , 300 / min ", [(5, 1.0), (300, 60.0)]),
        ("300/MIN", [(300, 60.0)]),
        ("5/seconds", [(5, 1.0)]),
        ("2/3minutes", [(2, 180.0)]),
    ],
)
def test_parse_reads_what_people_write(text: str, rules: list[tuple[int, float]]) -> None:
    spec = parse_rate(text)
    assert [(rule.limit, rule.interval) for rule in spec.rules] == rules


def test_rules_are_sorted_shortest_window_first() -> None:
    spec = parse_rate("300/min,5/s")
    assert [rule.interval for rule in spec.rules] == [1.0, 60.0]
    assert spec.longest == 60.0


def test_empty_parts_between_commas_are_ignored() -> None:
    assert parse_rate("5/s,,300/min,").rules == parse_rate("5/s,300/min").rules


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "empty rate limit"),
        (" , ", "empty rate limit"),
        ("fast", "cannot read rate limit 'fast'"),
        ("300", "cannot read rate limit '300'"),
        ("-5/s", "cannot read rate limit '-5/s'"),
        ("5/fortnight", "unknown time unit 'fortnight'"),
        ("0/s", "at least one request"),
        ("5/0s", "at least one request"),
        ("5/s,abc", "cannot read rate limit 'abc'"),
    ],
)
def test_bad_specs_raise_usage_error_with_a_readable_message(text: str, says: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_rate(text)
    assert says in caught.value.message
    assert not caught.value.transient


def test_unreadable_spec_hint_shows_the_expected_form() -> None:
    with pytest.raises(UsageError) as caught:
        parse_rate("lots")
    assert "300/min" in caught.value.hint


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("300/min", "300/min"),
        ("50/s", "50/s"),
        ("10/2s", "10/2s"),
        ("5/s,300/min", "5/s,300/min"),
        ("100/2min", "100/2min"),
        ("7/1.5s", "7/1.5s"),
        ("1000/h", "1000/h"),
        ("5/day", "5/d"),
    ],
)
def test_specs_print_back_in_a_form_that_parses_to_the_same_rules(text: str, shown: str) -> None:
    spec = parse_rate(text)
    assert str(spec) == shown
    assert parse_rate(str(spec)) == spec


def test_per_minute_is_the_tightest_rule() -> None:
    assert parse_rate("5/s").per_minute == 300.0
    assert parse_rate("5/s,100/min").per_minute == 100.0
    assert parse_rate("10/2s").per_minute == 300.0


def test_scaled_lowers_limits_but_never_below_one_request() -> None:
    spec = parse_rate("5/s,300/min")
    assert spec.scaled(0.5) == RateSpec((RateRule(2, 1.0), RateRule(150, 60.0)))
    assert spec.scaled(0.01).rules[0].limit == 1
    assert [rule.interval for rule in spec.scaled(0.3).rules] == [1.0, 60.0]
