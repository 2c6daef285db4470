"""The command-line tool's pure parts: money from integer micros, typed variables, the progress bar."""

from __future__ import annotations

import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cli.main import UsageError, build_parser, typed_variables
from cli.money import format_micros, parse_dollars
from cli.progress import ProgressBar, is_finished, render


@pytest.mark.parametrize(
    ("micros", "text"),
    [
        (0, "$0.00"),
        (1, "$0.000001"),
        (8_500, "$0.0085"),
        (25_000_000, "$25.00"),
        (-25_500, "-$0.0255"),
        (1_234_567_890_120, "$1,234,567.89012"),
    ],
)
def test_amounts_show_at_least_cents_and_every_significant_digit(micros, text):
    assert format_micros(micros) == text


@given(st.integers(min_value=0, max_value=10**18 - 1))  # up to 12 digits of dollars
def test_a_shown_amount_reads_back_as_the_same_micros(micros):
    assert parse_dollars(format_micros(micros).replace(",", "")) == micros


@pytest.mark.parametrize("text", ["1.0000001", "abc", "-1", "1e3", ""])
def test_an_amount_with_more_than_six_decimals_or_no_number_is_refused(text):
    with pytest.raises(ValueError, match="not an amount"):
        parse_dollars(text)


def test_variables_take_the_saved_message_s_types():
    declared = {"company": "text", "amount": "amount", "ticket_number": "text"}
    assert typed_variables(["company=Demo Fiber", "amount=4999", "ticket_number=0042"], declared) == {
        "company": "Demo Fiber",
        "amount": 4999,
        "ticket_number": "0042",
    }
    with pytest.raises(UsageError, match="integer cents"):
        typed_variables(["amount=49.99"], declared)
    with pytest.raises(UsageError, match="NAME=VALUE"):
        typed_variables(["company"], declared)


def job(status: str, **progress: int) -> dict:
    return {"status": status, "preview": {"recipients": 4}, "progress": progress}


def test_the_bar_fills_as_messages_leave_the_queue_and_the_job_finishes_when_none_wait():
    assert render(job("sending", Pending=4)).startswith("[" + "-" * 30 + "] 0/4 sending")
    assert render(job("queued", Delivered=2, Sent=1, Pending=1)).startswith(
        "[" + "#" * 22 + "-" * 8 + "] 3/4"
    )
    assert not is_finished(job("sending", Sent=4))
    assert not is_finished(job("queued", Sent=3, **{"In Progress": 1}))
    assert is_finished(job("queued", Delivered=3, Failed=1))
    assert is_finished(job("cancelled", Failed=4))


def test_off_a_terminal_the_bar_prints_a_line_per_change():
    out = io.StringIO()
    bar = ProgressBar(out)
    for state in (job("sending", Pending=4), job("sending", Pending=4), job("queued", Sent=4)):
        bar.show(state)
    bar.finish()
    assert len(out.getvalue().splitlines()) == 2


def test_the_url_and_key_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("SMS_API_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("SMS_API_KEY", "sms_x")
    args = build_parser().parse_args(["balance"])
    assert (args.url, args.key) == ("http://127.0.0.1:9", "sms_x")
