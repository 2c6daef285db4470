#!/usr/bin/env python3
"""The CDK app: one stack, checked by cdk-nag's AwsSolutions pack at every synth."""

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra.constants import STACK_NAME
from infra.stack import SmsPlatformStack


def build_app(app: cdk.App | None = None) -> tuple[cdk.App, SmsPlatformStack]:
    app = app or cdk.App()
    stack = SmsPlatformStack(app, STACK_NAME, description="Outbound SMS platform")
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
    return app, stack


if __name__ == "__main__":
    built, _ = build_app()
    built.synth()
