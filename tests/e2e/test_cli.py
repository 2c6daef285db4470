"""The command-line tool against `python -m local`: a trigger, the log, a mass message, the balance, codes."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli.main import EXIT_API_ERROR, EXIT_NOT_CONFIRMED, main
from cli.money import format_micros
from tests.e2e.conftest import DEMO_KEY, OPERATOR_KEY, ROOT, LocalService

pytestmark = pytest.mark.e2e


def run(service: LocalService, *argv: str, key: str = DEMO_KEY) -> tuple[int, str]:
    out = io.StringIO()
    code = main(["--url", service.url, "--key", key, *argv], out=out)
    return code, out.getvalue()


def test_a_trigger_then_its_message_in_the_log_until_delivered(service: LocalService):
    code, out = run(service, "trigger", "payment_received", "--contact", "contact-ada",
                    "--var", "company=CLI Fiber", "--var", "amount=1234")  # fmt: skip
    assert code == 0, out
    assert out.startswith("queued msg_")
    assert "to +14165550123 (Pending)" in out
    assert "skipped +14165550124: not_sms_capable" in out  # Ada's home number
    message_id = out.split()[1]

    code, out = run(service, "--json", "messages", "tail", "--lines", "3", "--interval", "0.2", "--for", "8")
    assert code == 0
    seen = [json.loads(line) for line in out.splitlines()]
    statuses = [line["status"] for line in seen if line["id"] == message_id]
    assert statuses[-1] == "Delivered", statuses

    code, out = run(service, "messages", "show", message_id)
    assert code == 0
    assert "CLI Fiber: thank you, we received your payment of $12.34." in out
    assert out.rstrip().splitlines()[-1].split()[2] == "Delivered"

    code, out = run(
        service, "messages", "list", "--phone", "416-555-0123", "--status", "Delivered", "--limit", "3"
    )
    assert code == 0
    assert all("Delivered" in line and "+14165550123" in line for line in out.splitlines()[:3])


def test_a_mass_message_is_previewed_confirmed_and_followed_with_a_progress_bar(
    service: LocalService, monkeypatch: pytest.MonkeyPatch
):
    mass = ["mass", "create", "--message", "unplanned_outage", "--start", "2026-12-02T01:00:00-05:00",
            "--end", "2026-12-02T03:00:00-05:00", "--var", "company=CLI Fiber", "--contact-type", "Technical"]  # fmt: skip
    # Not confirmed at the prompt: nothing is sent
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    code, out = run(service, *mass)
    assert code == EXIT_NOT_CONFIRMED
    assert "Recipients: 1" in out  # Charles, the one Technical contact
    assert "Not sent." in out

    code, out = run(service, *mass, "--yes", "--poll", "0.2")
    assert code == 0, out
    lines = out.splitlines()
    assert any(line.startswith("  Charge:     $") for line in lines)
    assert any(line.startswith("[") and "1/1" in line for line in lines), out  # the bar, full
    assert lines[-1].startswith("Done: job_")
    assert lines[-1].endswith(" queued.")


def test_the_balance_and_the_csv_export(service: LocalService, tmp_path: Path):
    code, out = run(service, "balance", "--ledger", "3")
    assert code == 0
    balance = service.call("GET", "/v1/balance").body["balance_micros"]
    assert out.splitlines()[0] == f"Balance:  {format_micros(balance)}"
    assert len(out.splitlines()) == 2 + 1 + 3

    target = tmp_path / "failed.csv"
    code, out = run(service, "messages", "export", "--status", "Failed", "--output", str(target))
    assert code == 0
    rows = list(csv.DictReader(target.open(newline="")))
    assert out == f"{len(rows)} rows written to {target}\n"
    assert rows
    assert {row["status"] for row in rows} == {"Failed"}


def test_transport_codes_are_managed_with_the_operator_s_key(service: LocalService, capsys):
    code, out = run(
        service, "codes", "put", "+18005550199", "--pps", "2.5", "--daily-cap", "1000", key=OPERATOR_KEY
    )
    assert code == 0, out
    assert out.split()[:3] == ["+18005550199", "toll_free", "2.5"]
    assert "cap 1000" in out
    code, out = run(service, "codes", "list", key=OPERATOR_KEY)
    assert "+18005550199" in out
    assert "+18005550100" in out
    assert run(service, "codes", "delete", "+18005550199", key=OPERATOR_KEY) == (0, "deleted +18005550199\n")
    assert "+18005550199" not in run(service, "codes", "list", key=OPERATOR_KEY)[1]

    # A tenant's key may not; the refusal is the API's problem document
    capsys.readouterr()
    assert run(service, "codes", "list")[0] == EXIT_API_ERROR
    assert "error: 403 Forbidden: the API key lacks the 'operator' permission" in capsys.readouterr().err


def test_python_dash_m_cli_reads_its_url_and_key_from_the_environment(service: LocalService):
    environment = {**os.environ, "SMS_API_URL": service.url, "SMS_API_KEY": DEMO_KEY}
    done = subprocess.run(
        [sys.executable, "-m", "cli", "balance", "--ledger", "0"],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Balance:  $")
    without = {name: value for name, value in environment.items() if name != "SMS_API_URL"}
    refused = subprocess.run(
        [sys.executable, "-m", "cli", "balance"], cwd=ROOT, env=without, capture_output=True, text=True,
        timeout=30, check=False,
    )  # fmt: skip
    assert refused.returncode == 2
    assert "SMS_API_URL" in refused.stderr
