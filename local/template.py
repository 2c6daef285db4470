"""The synthesized CloudFormation template, the one source of the local runtime's resources.

Synthesized in-process without bundling (the layer is irrelevant locally) and cached under
``.local/`` keyed by the hash of the infrastructure code, so local and cloud cannot drift.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CACHE_DIR = PROJECT_ROOT / ".local"
SOURCES = [PROJECT_ROOT / "app.py", *sorted((PROJECT_ROOT / "infra").glob("*.py"))]
SOURCES += [PROJECT_ROOT / "functions" / "public_routes.py", Path(__file__).resolve()]
SOURCES += [PROJECT_ROOT / "functions" / "metrics_catalog.py"]  # the alarms' and dashboard's metrics
SOURCES += [PROJECT_ROOT / "functions" / "dal" / "messages.py"]  # the ready index's projected fields


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for path in SOURCES:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def synthesize() -> dict[str, Any]:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    import aws_cdk as cdk

    from infra.constants import STACK_NAME
    from infra.stack import SmsPlatformStack

    app = cdk.App(context={"aws:cdk:bundling-stacks": [], "aws:cdk:enable-path-metadata": True})
    SmsPlatformStack(app, STACK_NAME)
    template: dict[str, Any] = app.synth().get_stack_by_name(STACK_NAME).template
    return template


def load_template() -> dict[str, Any]:
    cached = CACHE_DIR / f"template-{_fingerprint()}.json"
    if cached.exists():
        loaded: dict[str, Any] = json.loads(cached.read_text())
        return loaded
    template = synthesize()
    CACHE_DIR.mkdir(exist_ok=True)
    for stale in CACHE_DIR.glob("template-*.json"):
        stale.unlink(missing_ok=True)
    # Written aside and renamed: test workers starting together never read a half-written file.
    partial = cached.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(json.dumps(template))
    partial.replace(cached)
    return template
