# ruff: noqa: RUF001 (typographic look-alikes are what this benchmark measures)
"""Segments and cost with and without smart encoding, over the catalog and typographic bodies.

Usage: .venv/bin/python bench/smart_encoding.py [--price 8500]

Three sets, every body with the signature every message carries ("Have a question? Call ...
Email ... Reply STOP to unsubscribe."):
- the catalog: every saved message rendered with plain example variables;
- the catalog with typographic variables: the same with a company name and free-text values as
  tenants' systems often hold them (a curly apostrophe, an en dash);
- tenant-written bodies: calling-list style texts pasted from a word processor (curly quotes,
  dashes, ellipses, no-break spaces).
For each set: the messages made GSM-7, the parts without and with, and the cost of a million of
each set's messages (sent in equal numbers) at the per-part price.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from functions.domain.catalog import SAVED_MESSAGES
from functions.domain.segments import Encoding
from functions.domain.signatures import SignatureText, compose_body, render_signature
from functions.domain.smart_encoding import encode_body
from functions.domain.templates import Template, VariableType

SIGNATURE = render_signature(SignatureText.HAVE_A_QUESTION, "+14165550199", "help@fiber.example")
TIME_ZONE = "America/Toronto"

PLAIN = {
    VariableType.TEXT: "Northwind Fiber",
    VariableType.AMOUNT: 4999,
    VariableType.DATE: "2026-12-01",
    VariableType.DATETIME: "2026-12-01T14:00:00-05:00",
}
NAMED_PLAIN = {"invoice_number": "INV-20931", "ticket_number": "48213", "ticket_status": "waiting for parts",
               "tracking_number": "1Z999AA10123456784", "percent": "90"}  # fmt: skip
TYPOGRAPHIC_TEXT = {"company": "O’Brien’s Fiber – North", "ticket_status": "technician’s visit – “parts on order”",
                    "invoice_number": "INV‑20931"}  # fmt: skip

TENANT_BODIES = [
    "Hi Tom, sorry we missed you! Your fence quote of $1,250.00 is ready – reply or call us… we’d love to help.",
    "Reminder: your technician visit is tomorrow between 9–11 AM. Please make sure someone 18+ is home.",
    "We’ve finished the upgrade in your area. If your modem’s lights aren’t solid, unplug it for 30 seconds.",
    "Your “Fiber 500” plan renews on Dec 1. Nothing to do — we’ll charge the card on file.",
    "Good news: the outage on Main St. is fixed. Thanks for your patience… we know it’s been a long day.",
    "Hi Maria, it’s Northwind Fiber. Your new router ships today; tracking: 1Z999AA10123456784.",
    "Don’t forget: bring a photo ID to pick up your equipment at 125\u00a0King St. W., Suite 400.",
    "Your account is 30 days past due. To avoid interruption, pay $89.99 by Friday – call us with questions.",
    "Storm update: crews are restoring service in Westside now; most homes should be back by 6\u202fPM.",
    "We’re sorry – your appointment had to move to Thursday. Reply YES to confirm or call us to pick a time.",
    "Hi Sam! Your referral credit of $50 is on this month’s bill. Thanks for spreading the word…",
    "Maintenance tonight 1–4 AM: internet may drop for a few minutes. No action needed on your side.",
]


@dataclass
class Tally:
    messages: int = 0
    made_gsm: int = 0
    parts_without: int = 0
    parts_with: int = 0


def example(template: Template, typographic: bool) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, kind in template.variables.items():
        value = NAMED_PLAIN.get(name, PLAIN[kind]) if kind is VariableType.TEXT else PLAIN[kind]
        if typographic and kind is VariableType.TEXT:
            value = TYPOGRAPHIC_TEXT.get(name, value)
        values[name] = value
    return values


def measure(bodies: list[str]) -> Tally:
    tally = Tally()
    for body in bodies:
        written = encode_body(body, smart=False)
        smart = encode_body(body, smart=True)
        tally.messages += 1
        tally.made_gsm += written.count.encoding is Encoding.UCS2 and smart.count.encoding is Encoding.GSM
        tally.parts_without += written.count.segments
        tally.parts_with += smart.count.segments
    return tally


def catalog(typographic: bool) -> list[str]:
    return [
        compose_body(template.render(example(template, typographic), TIME_ZONE), SIGNATURE)
        for template in SAVED_MESSAGES.values()
    ]


def dollars_per_million(parts: int, messages: int, price_micros: int) -> str:
    # A million messages of the set, in equal numbers: parts per message x 10^6 x price (micros).
    micros = parts * price_micros * 1_000_000 // messages
    return f"${micros // 1_000_000:,}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--price", type=int, default=8_500, help="price per part in micros (default 8500)")
    args = parser.parse_args()
    sets = {
        "catalog, plain variables": catalog(typographic=False),
        "catalog, typographic variables": catalog(typographic=True),
        "tenant-written bodies": [compose_body(body, SIGNATURE) for body in TENANT_BODIES],
    }
    print("| set | messages | made GSM-7 | parts without | parts with | per million without | with | saved |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, bodies in sets.items():
        t = measure(bodies)
        saved = 100 * (t.parts_without - t.parts_with) / t.parts_without
        print(
            f"| {name} | {t.messages} | {t.made_gsm} | {t.parts_without} | {t.parts_with} | "
            f"{dollars_per_million(t.parts_without, t.messages, args.price)} | "
            f"{dollars_per_million(t.parts_with, t.messages, args.price)} | {saved:.0f}% |"
        )


if __name__ == "__main__":
    main()
