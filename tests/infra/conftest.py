from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from app import build_app
from infra.constants import STACK_NAME


@pytest.fixture(scope="session")
def template_json() -> dict[str, Any]:
    """One synth with cdk-nag's AwsSolutions plugin (a violation fails synth), bundling skipped for speed."""
    app, _ = build_app(cdk.App(context={"aws:cdk:bundling-stacks": []}))
    template: dict[str, Any] = app.synth().get_stack_by_name(STACK_NAME).template
    return template


@pytest.fixture(scope="session")
def template(template_json: dict[str, Any]) -> Template:
    return Template.from_json(template_json)
