"""python -m local: run the whole SMS platform on this machine (moto, the functions, a carrier simulator)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from local.carrier import SimulatorSettings
from local.runtime import LocalRuntime, RuntimeSettings


def _latency_range(text: str) -> tuple[float, float]:
    """``LOW-HIGH`` (or one number) in milliseconds, 0 <= LOW <= HIGH."""
    low, _, high = text.partition("-")
    try:
        bounds = (float(low), float(high or low))
    except ValueError:
        raise argparse.ArgumentTypeError(f"want LOW-HIGH in ms, e.g. 0-50, not {text!r}") from None
    if not 0 <= bounds[0] <= bounds[1]:
        raise argparse.ArgumentTypeError(f"want 0 <= LOW <= HIGH, not {text!r}")
    return bounds


def parse_args(argv: list[str]) -> RuntimeSettings:
    parser = argparse.ArgumentParser(prog="python -m local", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument(
        "--instances",
        action="append",
        default=[],
        metavar="FUNCTION=N",
        help="concurrent instances of a queue's function, e.g. receipts=2 (repeatable)",
    )
    parser.add_argument(
        "--tick-seconds", type=float, default=None, help="schedule period (default: its rate)"
    )
    parser.add_argument("--carrier", choices=["simulator", "aws"], default="simulator")
    parser.add_argument(
        "--receipt-delay", type=float, default=1.0, help="seconds from send to delivery event"
    )
    parser.add_argument(
        "--failure-ratio", type=float, default=0.0, help="share of messages that fail delivery"
    )
    parser.add_argument(
        "--carrier-latency-ms",
        type=_latency_range,
        default=(0.0, 0.0),
        metavar="LOW-HIGH",
        help="random delay the carrier simulator adds to each call before it arrives, e.g. 0-50",
    )
    parser.add_argument(
        "--max-batching-window",
        type=float,
        default=None,
        metavar="SECONDS",
        help="cap every event source mapping's batching window (the template's: 2 s for receipts,"
        " 1 s for status events), e.g. 0.2 for quicker turns in tests",
    )
    parser.add_argument("--log-level", default="WARNING", help="the functions' log level")
    parser.add_argument(
        "--no-demo-activity",
        action="store_true",
        help="start with no messages sent (with the simulator, the demo tenant sends a few for the console)",
    )
    parser.add_argument(
        "--allow-loopback-webhooks",
        action="store_true",
        help="let the reply webhook post to this machine (127.0.0.1, localhost; plain http too) to try a"
        " receiver; without it a loopback URL is refused, as in AWS",
    )
    args = parser.parse_args(argv)
    instances: dict[str, int] = {}
    for item in args.instances:
        name, _, count = item.partition("=")
        if not count.isdigit() or int(count) < 1:
            parser.error(f"--instances wants FUNCTION=N with N >= 1, not {item!r}")
        instances[name] = int(count)
    return RuntimeSettings(
        host=args.host,
        port=args.port,
        instances=instances,
        tick_seconds=args.tick_seconds,
        max_batching_window_seconds=args.max_batching_window,
        carrier=args.carrier,
        simulator=SimulatorSettings(
            receipt_delay_seconds=args.receipt_delay,
            failure_ratio=args.failure_ratio,
            latency_ms=args.carrier_latency_ms,
        ),
        function_log_level=args.log_level,
        demo_activity=not args.no_demo_activity,
        allow_loopback_webhooks=args.allow_loopback_webhooks,
    )


def banner(runtime: LocalRuntime) -> str:
    url, demo = runtime.url, runtime.demo
    auth = f'-H "Authorization: Bearer {demo.api_key}"'
    return f"""
Outbound SMS is running locally at {url}
  demo tenant  {demo.tenant_id}
  API key      {demo.api_key}
  operator key {demo.operator_key}
  carrier      {runtime.settings.carrier}

Console: {url}/console  (sign in with the API key above)
CLI:     SMS_API_URL={url} SMS_API_KEY={demo.api_key} python -m cli messages tail

Try:
  curl -s {url}/v1/openapi.json | head -c 300
  curl -s -X POST {url}/v1/triggers/payment_received {auth} \\
       -H "Content-Type: application/json" \\
       -d '{{"contact_id": "{demo.contact_id}", "variables": {{"company": "Demo Fiber", "amount": 4999}}}}'
  curl -s -X POST {url}/v1/triggers/service_reactivated {auth} \
       -H "Content-Type: application/json" \
       -d '{{"account_id": "{demo.account_id}", "variables": {{"company": "Demo Fiber"}}}}'
  curl -s {url}/v1/messages {auth}
  curl -s {url}/v1/balance {auth}               # the prepaid balance, in micro-dollars
  curl -s {url}/v1/messages/<id from the POST> {auth}
  curl -s {url}/_local/carrier/messages          # what the carrier simulator received
  curl -s -X POST {url}/_local/carrier/inbound \
       -d '{{"from": "+14165550123", "to": "{demo.sending_number}", "body": "STOP"}}'   # a recipient replies
  curl -s {url}/v1/opt-outs/+14165550123 {auth}  # opted out, and the audit trail

Press Ctrl-C to stop.
"""


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    runtime = LocalRuntime(parse_args(sys.argv[1:] if argv is None else argv))
    runtime.start()
    print(f"Listening on {runtime.url}", flush=True)
    print(banner(runtime), flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    stopped.wait()
    print("Stopping...", flush=True)
    runtime.stop()
    print("Stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
