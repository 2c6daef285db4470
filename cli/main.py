"""The commands: send a trigger, preview and confirm a mass message, follow the sent-messages log,
show the balance, manage transport codes (with the operator's key).

The API's URL and key come from --url/--key or SMS_API_URL/SMS_API_KEY.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, TextIO

from cli.client import ApiClient, ApiError, Unreachable, path_part
from cli.money import format_micros
from cli.progress import ProgressBar, is_finished

EXIT_API_ERROR = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_NOT_CONFIRMED = 4
EXIT_INTERRUPTED = 130
STATUSES = ("Pending", "In Progress", "Sent", "Delivered", "Failed", "Insufficient funds")
MASS_MESSAGES = ("planned_outage", "unplanned_outage", "unplanned_outage_no_eta")
ENTITY_TYPES = ("account", "network_site", "calling_list")
# Variables of these types are numbers in the API; every other type is text.
NUMERIC_TYPES = frozenset({"amount"})

Command = Callable[[ApiClient, argparse.Namespace, TextIO], int]


class UsageError(Exception):
    pass


# ---- arguments ----


def _filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--status", choices=STATUSES)
    parser.add_argument("--from", dest="created_from", metavar="ISO", help="created at or after")
    parser.add_argument("--to", dest="created_to", metavar="ISO", help="created before")
    parser.add_argument("--phone", dest="phone_number")
    parser.add_argument("--entity", dest="entity_id", help="related entity (account or network site id)")
    parser.add_argument("--entity-type", choices=ENTITY_TYPES)
    parser.add_argument("--job", dest="job_id", help="a mass message's or calling list's id")
    parser.add_argument("--trigger")


def _variables(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--var",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a template variable (repeatable); amounts are integer cents",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m cli", description=__doc__)
    parser.add_argument("--url", default=os.environ.get("SMS_API_URL"), help="default: $SMS_API_URL")
    parser.add_argument("--key", default=os.environ.get("SMS_API_KEY"), help="default: $SMS_API_KEY")
    parser.add_argument("--json", action="store_true", help="print the API's JSON answers")
    commands = parser.add_subparsers(dest="command", required=True)

    trigger = commands.add_parser("trigger", help="send a trigger's saved message")
    trigger.add_argument("name", help="e.g. payment_received")
    target = trigger.add_mutually_exclusive_group(required=True)
    target.add_argument("--contact", dest="contact_id")
    target.add_argument("--account", dest="account_id")
    trigger.add_argument("--phone", dest="phone_number", help="with --contact: only this number")
    _variables(trigger)
    trigger.add_argument("--signature", dest="signature_id")
    trigger.add_argument("--sending-number")
    trigger.add_argument("--idempotency-key", help="a retry with the same key sends nothing twice")
    trigger.set_defaults(run=send_trigger)

    mass = commands.add_parser("mass", help="mass messages").add_subparsers(dest="action", required=True)
    create = mass.add_parser("create", help="preview a mass message, then confirm it")
    create.add_argument("--message", dest="saved_message", choices=MASS_MESSAGES, required=True)
    create.add_argument("--start", dest="outage_start", required=True, metavar="ISO")
    create.add_argument("--end", dest="outage_end", metavar="ISO")
    _variables(create)
    create.add_argument("--network-site", dest="network_site_ids", action="append", default=[])
    create.add_argument("--account-status", dest="account_statuses", action="append", default=[])
    create.add_argument("--account-group", dest="account_groups", action="append", default=[])
    create.add_argument("--contact-type", dest="contact_types", action="append", default=[])
    create.add_argument("--signature", dest="signature_id")
    create.add_argument("--sending-number")
    create.add_argument("--yes", action="store_true", help="confirm without asking")
    create.add_argument("--preview-only", action="store_true", help="stop after the preview")
    create.add_argument("--no-wait", action="store_true", help="do not follow the job once confirmed")
    create.add_argument("--poll", type=float, default=1.0, help="seconds between progress polls")
    create.set_defaults(run=create_mass)
    confirm = mass.add_parser("confirm", help="confirm a previewed mass message and follow it")
    confirm.add_argument("job_id")
    confirm.add_argument("--token", help="default: the job's current token")
    confirm.add_argument("--send-at", metavar="ISO", help="send later, at this date-time with its offset")
    confirm.add_argument("--if-changed", choices=["send", "stop"], help="with --send-at (default: stop)")
    confirm.add_argument("--no-wait", action="store_true")
    confirm.add_argument("--poll", type=float, default=1.0, help="seconds between progress polls")
    confirm.set_defaults(run=confirm_mass)
    for name, run, text in (
        ("status", mass_status, "a job and its progress"),
        ("watch", watch_mass, "follow a job until it finishes"),
        ("cancel", cancel_mass, "cancel: messages not yet sent fail as cancelled"),
    ):
        action = mass.add_parser(name, help=text)
        action.add_argument("job_id")
        action.add_argument("--poll", type=float, default=1.0, help="seconds between progress polls")
        action.set_defaults(run=run)
    mass.add_parser("list", help="recent mass messages").set_defaults(run=list_mass)

    messages = commands.add_parser("messages", help="the sent-messages log")
    log = messages.add_subparsers(dest="action", required=True)
    listing = log.add_parser("list", help="one page of the log, newest first")
    _filters(listing)
    listing.add_argument("--limit", type=int, default=20)
    listing.set_defaults(run=list_messages)
    show = log.add_parser("show", help="one message: its body and status history")
    show.add_argument("message_id")
    show.set_defaults(run=show_message)
    tail = log.add_parser("tail", help="print messages as they are created and change status")
    _filters(tail)
    tail.add_argument("--lines", type=int, default=10, help="how many recent messages to start with")
    tail.add_argument("--interval", type=float, default=2.0, help="seconds between polls")
    tail.add_argument("--for", dest="duration", type=float, default=None, help="stop after these seconds")
    tail.set_defaults(run=tail_messages)
    export = log.add_parser("export", help="the filtered log as CSV (every page)")
    _filters(export)
    export.add_argument("--output", "-o", help="a file (default: standard output)")
    export.set_defaults(run=export_messages)

    balance = commands.add_parser("balance", help="the prepaid balance, auto-buy and recent ledger entries")
    balance.add_argument("--ledger", type=int, default=5, help="ledger entries to show")
    balance.set_defaults(run=show_balance)

    codes = commands.add_parser("codes", help="transport codes (operator key)")
    code_actions = codes.add_subparsers(dest="action", required=True)
    code_actions.add_parser("list", help="every transport code").set_defaults(run=list_codes)
    get_code = code_actions.add_parser("get", help="one transport code")
    get_code.add_argument("number")
    get_code.set_defaults(run=show_code)
    put = code_actions.add_parser("put", help="register or change a transport code")
    put.add_argument("number", help="+18005550100, or a short code such as 55501")
    put.add_argument("--kind", choices=("long_code", "toll_free", "short_code"))
    put.add_argument("--pps", dest="parts_per_second", help="message parts per second, e.g. 3 or 0.5")
    put.add_argument("--daily-cap", dest="daily_cap_parts", type=int, help="parts per UTC day")
    put.add_argument("--opt-out-scope", default="global", help="'global' or 'dnc:<group>'")
    put.add_argument("--tenant", dest="tenant_ids", action="append", help="a tenant it serves (repeatable)")
    put.set_defaults(run=put_code)
    delete = code_actions.add_parser("delete", help="remove a transport code no tenant uses")
    delete.add_argument("number")
    delete.set_defaults(run=delete_code)
    return parser


# ---- helpers ----


def emit(out: TextIO, args: argparse.Namespace, answer: Any, text: str) -> None:
    out.write((json.dumps(answer, indent=2) if args.json else text) + "\n")
    out.flush()


def query_of(args: argparse.Namespace) -> dict[str, Any]:
    names = ("status", "created_from", "created_to", "phone_number", "entity_id", "entity_type", "job_id")
    query = {name: getattr(args, name) for name in names}
    query["trigger"] = args.trigger
    return query


def typed_variables(pairs: list[str], declared: dict[str, str]) -> dict[str, Any]:
    """NAME=VALUE pairs, typed as the saved message declares them (amounts are integer cents)."""
    variables: dict[str, Any] = {}
    for pair in pairs:
        name, separator, value = pair.partition("=")
        if not separator or not name:
            raise UsageError(f"--var wants NAME=VALUE, not {pair!r}")
        if declared.get(name) in NUMERIC_TYPES:
            try:
                variables[name] = int(value)
            except ValueError:
                raise UsageError(f"{name} is an amount in integer cents, not {value!r}") from None
        else:
            variables[name] = value
    return variables


def declared_variables(client: ApiClient, key: str, by: str) -> dict[str, str]:
    """The variable types of the saved message whose ``by`` (key or trigger) is ``key``."""
    for entry in client.get("/v1/saved-messages"):
        if entry.get(by) == key:
            return dict(entry["variables"])
    return {}


def message_line(message: dict[str, Any]) -> str:
    created = message["created_at"][:19].replace("T", " ")
    who = f"{message['recipient_name']} ({message['contact_type']})"
    what = message["trigger"] or message["saved_message"]
    reason = f"  {message['reject_reason']}" if message.get("reject_reason") else ""
    return f"{created}  {message['status']:<18} {message['phone_number']:<13} {who:<32} {what}{reason}"


def preview_text(job: dict[str, Any]) -> str:
    preview = job.get("preview")
    if preview is None:
        return f"Mass message {job['id']} ({job['saved_message']}): {job['status']}, no preview yet"
    left = [f"{reason.replace('_', ' ')} {count}" for reason, count in preview["excluded"].items()]
    if preview["duplicates_removed"]:
        left.append(f"duplicates {preview['duplicates_removed']}")
    lines = [
        f"Mass message {job['id']} ({job['saved_message']}): {job['status']}",
        f"  Recipients: {preview['recipients']}" + (f" (left out: {', '.join(left)})" if left else ""),
        f"  Charge:     {format_micros(preview['total_micros'])} ({preview['recipients']} x "
        f"{format_micros(preview['price_per_message_micros'])}, "
        f"{preview['segments_per_message']} segment(s) each)",
    ]
    if preview.get("balance_micros") is not None:
        covers = "covers it" if preview["balance_covers"] else "does NOT cover it"
        lines.append(f"  Balance:    {format_micros(preview['balance_micros'])}, {covers}")
    lines.append("  Text:")
    lines += [f"    {line}" for line in job["body"].splitlines()]
    return "\n".join(lines)


RUNNING = frozenset({"validating", "previewing", "confirming", "starting"})


def settle(client: ApiClient, job: dict[str, Any], interval: float = 0.5) -> dict[str, Any]:
    """The job once its preview computation (for a large audience, seconds to minutes) has ended."""
    while job["status"] in RUNNING:
        time.sleep(interval)
        job = client.get(f"/v1/mass-messages/{path_part(job['id'])}")
    return job


def follow(client: ApiClient, job_id: str, out: TextIO, interval: float = 1.0) -> dict[str, Any]:
    """Poll the job, drawing its progress, until every message has left the queue."""
    bar = ProgressBar(out)
    try:
        while True:
            job: dict[str, Any] = client.get(f"/v1/mass-messages/{path_part(job_id)}")
            bar.show(job)
            if is_finished(job):
                return job
            time.sleep(interval)
    finally:
        bar.finish()


# ---- commands ----


def send_trigger(client: ApiClient, args: argparse.Namespace, out: TextIO) -> int:
    declared = declared_variables(client, args.name, "trigger")
    body = {
        "contact_id": args.contact_id,
        "account_id": args.account_id,
        "phone_number": args.phone_number,
        "variables": typed_variables(args.var, declared),
        "signature_id": args.signature_id,
        "sending_number": args.sending_number,
    }
    headers = {"Idempotency-Key": args.idempotency_key} if args.idempotency_key else None
    result = client.post(
        f"/v1/triggers/{path_part(args.name)}",
        {k: v for k, v in body.items() if v is not None},
        headers=headers,
    )
    lines = [f"queued {m['id']} to {m['phone_number']} ({m['status']})" for m in result["messages"]]
    lines += [f"skipped {s['phone_number'] or s['contact_id']}: {s['reason']}" for s in result["skipped"]]
    emit(out, args, result, "\n".join(lines))
    return 0


def create_mass(client: ApiClient, args: argparse.Namespace, out: TextIO) -> int:
    declared = declared_variables(client, args.saved_message, "key")
    body: dict[str, Any] = {
        "saved_message": args.saved_message,
        "outage_start": args.outage_start,
        "variables": typed_variables(args.var, declared),
        "filters": {
            "network_site_ids": args.network_site_ids,
            "account_statuses": args.account_statuses,
            "account_groups": args.account_groups,
            "contact_types": args.contact_types,
        },
    }
    for name in ("outage_end", "signature_id", "sending_number"):
        if getattr(args, name):
            body[name] = getattr(args, name)
    job = settle(client, client.post("/v1/mass-messages", body))
    emit(out, args, job, preview_text(job))
    if args.preview_only:
        return 0
    if job["preview"] is None:  # rejected or cancelled meanwhile
        return EXIT_NOT_CONFIRMED
    recipients, total = job["preview"]["recipients"], format_micros(job["preview"]["total_micros"])
    if not args.yes and not ask(f"Send to {recipients} recipient(s), charging {total}? [y/N] ", out):
        out.write(f"Not sent. Confirm later: python -m cli mass confirm {job['id']}\n")
        return EXIT_NOT_CONFIRMED
    return _confirm(client, args, out, job["id"], job["confirmation_token"])


def ask(question: str, out: TextIO) -> bool:
    out.write(question)
    out.flush()
    try:
        return input().strip().lower() in {"y", "yes"}
    except EOFError:
        return False


def confirm_mass(client: ApiClient, args: argparse.Namespace, out: TextIO) -> int:
    token = args.token or client.get(f"/v1/mass-messages/{path_part(args.job_id)}")["confirmation_token"]
    if not token:
        raise UsageError(f"{args.job_id} is not waiting for confirmation")
    return _confirm(client, args, out, args.job_id, token)


def _confirm(client: ApiClient, args: argparse.Namespace, out: TextIO, job_id: str, token: str) -> int:
    body: dict[str, Any] = {"confirmation_token": token}
    if getattr(args, "send_at", None):
        body.update(send_at=args.send_at, if_changed=args.if_changed or "stop")
    job = settle(client, client.post(f"/v1/mass-messages/{path_part(job_id)}/confirm", body))
    if job.get("refusal") and job["status"] == "previewed":
        refusal = job["refusal"]
        raise UsageError(
            f"the preview went stale ({refusal['recipients_previewed']} recipients then, "
            f"{refusal['recipients_now']} now): nothing was sent; review it with mass status {job_id}"
        )
    if job["status"] == "scheduled":
        emit(out, args, job, f"Scheduled {job_id} for {job['send_at']} (if it changes: {job['if_changed']}).")
        return 0
    emit(out, args, job, f"Confirmed {job_id}: sending.")
    if args.no_wait:
        return 0
    done = follow(client, job_id, out, args.poll)
    emit(out, args, done, f"Done: {job_id} {done['status']}.")
    return 0


def mass_status(client: ApiClient, args: argparse.Namespace, out: TextIO) -> int:
    job = client.get(f"/v1/mass-messages/{path_part(args.job_id)}")
    progress = job.get("progress") or {}
    counts = ", ".join(f"{status} {count}" for status, count in progress.items() if count)
    emit(out, args, job, preview_text(job) + f"\n  Progress:   {counts or 'nothing sent yet'}")
    return 0


def watch_mass(client: ApiClient, args: argparse.Namespace, out: TextIO) -> int:
    done = follow(client, args.job_id, out, args.poll)
    emit(out, args, done, f"Done: {args.job_id} {done['status']}.")
    return 0


def cancel_mass(client: ApiClient, args: argparse.Namespace, out: TextIO) -> int:
    job = client.post(f"/v1/mass-messages/{path_part(args.job_id)}/cancel")
    emit(out, args, job, f"Cancelled {job['id']}.")
    return 0


def list_mass(client: ApiClient, args: argparse.Namespace, out: TextIO) -> int:
    jobs = client.get("/v1/mass-messages")
    lines = [
        f"{job['created_at'][:19].replace('T', ' ')}  {job['id']}  {job['saved_message']:<24} "
        f"{job['status']:<10} {(job['preview'] or {}).get('recipients', '-'):>7}  "
        f"{format_micros(job['preview']['total_micros']) if job['preview'] else '-'}"
        for job in jobs
    ]
    emit(out, args, jobs, "\n".join(lines) or "no mass messages yet")
    return 0


def list_messages(client: ApiClient, args: argparse.Namespace, out: TextIO) -> int:
    page = client.get("/v1/messages", limit=args.limit, **query_of(args))
    lines = [message_line(message) for message in page["items"]]
    if page["next_cursor"]:
        lines.append("(more: narrow the filters, or export them)")
    emit(out, args, page, "\n".join(lines) or "no messages")
    return 0


def show_message(client: ApiClient, args: argparse.Namespace, out: TextIO) -> int:
    message = client.get(f"/v1/messages/{path_part(args.message_id)}")
    lines = [
        message_line(message),
        f"  from {message['sending_number']}, {message['segments']} segment(s) "
        f"({message['encoding']}), {format_micros(message['price_micros'])}",
        f"  related entity: {message['related_entity']}",
        "  body:",
        *(f"    {line}" for line in message["body"].splitlines()),
        "  history:",
        *(
            f"    {change['at'][:23].replace('T', ' ')}  {change['status']}"
            + (f"  {change['reason']}" if change.get("reason") else "")
            + (f"  {change['detail']}" if change.get("detail") else "")
            for change in message["history"]
        ),
    ]
    emit(out, args, message, "\n".join(lines))
    return 0


def tail_messages(client: ApiClient, args: argparse.Namespace, out: TextIO) -> int:
    """Poll the newest page; print what is new or has changed status, oldest first."""
    seen: dict[str, str] = {}
    deadline = None if args.duration is None else time.monotonic() + args.duration
    first = True
    while True:
        page = client.get("/v1/messages", limit=max(50, args.lines), **query_of(args))["items"]
        changed = [m for m in reversed(page) if seen.get(m["id"]) != m["status"]]
        if first:
            changed = changed[-args.lines :] if args.lines > 0 else []
            seen.update({m["id"]: m["status"] for m in page})
            first = False
        for message in changed:
            seen[message["id"]] = message["status"]
            out.write((json.dumps(message) if args.json else message_line(message)) + "\n")
        out.flush()
        if deadline is not None and time.monotonic() + args.interval > deadline:
            return 0
        time.sleep(args.interval)


def export_messages(client: ApiClient, args: argparse.Namespace, out: TextIO) -> int:
    target = open(args.output, "w", encoding="utf-8", newline="") if args.output else out  # noqa: SIM115
    rows, cursor, header_written = 0, None, False
    try:
        while True:
            answer = client.call("GET", "/v1/messages.csv", query={**query_of(args), "cursor": cursor})
            text: str = answer.body or ""
            if header_written:
                text = text.split("\r\n", 1)[1] if "\r\n" in text else ""
            target.write(text)
            header_written = True
            rows += int(answer.headers.get("x-row-count", "0"))
            cursor = answer.headers.get("x-next-cursor")
            if not cursor:
                break
    finally:
        if args.output:
            target.close()
    if args.output:
        out.write(f"{rows} rows written to {args.output}\n")
    return 0


def show_balance(client: ApiClient, args: argparse.Namespace, out: TextIO) -> int:
    balance = client.get("/v1/balance")
    ledger = client.get("/v1/balance/ledger", limit=args.ledger)["items"] if args.ledger > 0 else []
    auto = balance["auto_buy"]
    lines = [
        f"Balance:  {format_micros(balance['balance_micros'])}",
        f"Auto-buy: {'on' if auto['enabled'] else 'off'} (below {format_micros(auto['threshold_micros'])},"
        f" buys {format_micros(auto['amount_micros'])})",
    ]
    if balance["pending_purchase"]:
        lines.append(f"Pending:  {format_micros(balance['pending_purchase']['amount_micros'])} on its way")
    if ledger:
        lines.append("Recent ledger entries:")
        lines += [
            f"  {entry['at'][:19].replace('T', ' ')}  {entry['kind']:<15} "
            f"{format_micros(entry['amount_micros']):>12}  {entry['message_id'] or entry['reference'] or ''}"
            for entry in ledger
        ]
    emit(out, args, {"balance": balance, "ledger": ledger}, "\n".join(lines))
    return 0


def code_line(code: dict[str, Any]) -> str:
    cap = code["daily_cap_parts"] if code["daily_cap_parts"] is not None else "-"
    tenants = ",".join(code["tenant_ids"]) or "-"
    return (
        f"{code['number']:<14} {code['kind']:<11} {code['parts_per_second']:>8} parts/s  "
        f"cap {cap}  {code['opt_out_scope']}  tenants {tenants}"
    )


def list_codes(client: ApiClient, args: argparse.Namespace, out: TextIO) -> int:
    codes = client.get("/v1/operator/transport-codes")
    emit(out, args, codes, "\n".join(code_line(code) for code in codes) or "no transport codes")
    return 0


def show_code(client: ApiClient, args: argparse.Namespace, out: TextIO) -> int:
    code = client.get(f"/v1/operator/transport-codes/{path_part(args.number)}")
    emit(out, args, code, code_line(code))
    return 0


def put_code(client: ApiClient, args: argparse.Namespace, out: TextIO) -> int:
    body: dict[str, Any] = {"opt_out_scope": args.opt_out_scope}
    if args.kind:
        body["kind"] = args.kind
    if args.parts_per_second is not None:
        try:
            rate = Decimal(args.parts_per_second)
        except InvalidOperation:
            raise UsageError(f"--pps wants a number, not {args.parts_per_second!r}") from None
        if not rate.is_finite():
            raise UsageError(f"--pps wants a number, not {args.parts_per_second!r}")
        # A JSON number, as the API takes it (it reads the number as a decimal).
        body["parts_per_second"] = int(rate) if rate == rate.to_integral_value() else float(rate)
    if args.daily_cap_parts is not None:
        body["daily_cap_parts"] = args.daily_cap_parts
    if args.tenant_ids:
        body["tenant_ids"] = args.tenant_ids
    code = client.put(f"/v1/operator/transport-codes/{path_part(args.number)}", body)
    emit(out, args, code, code_line(code))
    return 0


def delete_code(client: ApiClient, args: argparse.Namespace, out: TextIO) -> int:
    client.delete(f"/v1/operator/transport-codes/{path_part(args.number)}")
    emit(out, args, {"deleted": args.number}, f"deleted {args.number}")
    return 0


# ---- entry point ----


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if not args.url or not args.key:
        parser.error("give the API's URL and a key: --url and --key, or SMS_API_URL and SMS_API_KEY")
    run: Command = args.run
    try:
        return run(ApiClient(args.url, args.key), args, out)
    except UsageError as error:
        sys.stderr.write(f"error: {error}\n")
        return EXIT_USAGE
    except ApiError as error:
        sys.stderr.write(f"error: {error}\n")
        return EXIT_API_ERROR
    except Unreachable as error:
        sys.stderr.write(f"error: the API did not answer: {error}\n")
        return EXIT_UNREACHABLE
    except KeyboardInterrupt:
        out.write("\n")
        return EXIT_INTERRUPTED
