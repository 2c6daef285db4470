"""Starting a transport code's dispatcher: on AWS an asynchronous invoke of the dispatcher function.

The local runtime and the tests start dispatchers their own way (a thread each) through ``use``:
the one place where a process swaps the invoker the handlers build.
"""

from __future__ import annotations

import json
from typing import Any, Protocol


class Invoker(Protocol):
    def start(self, code: str) -> None: ...


class LambdaDispatcherInvoker:
    def __init__(self, client: Any, function_name: str) -> None:
        self._client = client
        self._function_name = function_name

    def start(self, code: str) -> None:
        self._client.invoke(
            FunctionName=self._function_name,
            InvocationType="Event",
            Payload=json.dumps({"code": code}).encode(),
        )


_override: Invoker | None = None


def use(invoker: Invoker | None) -> None:
    """Start dispatchers through ``invoker`` in this process (None: the Lambda invoke again)."""
    global _override
    _override = invoker


class _Started:
    """The invoker a handler holds: the process's override when one is set, else the Lambda invoke."""

    def __init__(self, client_factory: Any, function_name: str) -> None:
        self._client_factory = client_factory
        self._function_name = function_name
        self._lambda: LambdaDispatcherInvoker | None = None

    def start(self, code: str) -> None:
        if _override is not None:
            _override.start(code)
            return
        if self._lambda is None:
            self._lambda = LambdaDispatcherInvoker(self._client_factory(), self._function_name)
        self._lambda.start(code)


def dispatcher_invoker(client_factory: Any, function_name: str) -> Invoker:
    """``client_factory`` makes the Lambda client, when first needed."""
    return _Started(client_factory, function_name)
