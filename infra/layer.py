"""The dependency layer, built by pip with platform flags on this machine (no Docker)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.constants import ARCHITECTURE, LAYER_PLATFORM, LAYER_PYTHON_VERSION, PROJECT_ROOT, RUNTIME

LAYER_DIR = PROJECT_ROOT / "layers"


@jsii.implements(ILocalBundling)
class PipPlatformBundling:
    """Installs the layer's requirements as wheels for the Lambda platform into ``python/``."""

    def __init__(self, requirements: Path) -> None:
        self._requirements = requirements

    def try_bundle(self, output_dir: str, *, image: DockerImage, **_: object) -> bool:
        subprocess.run(  # noqa: S603 - a fixed command line, no user input
            [
                sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                "--requirement", str(self._requirements),
                "--target", str(Path(output_dir) / "python"),
                "--platform", LAYER_PLATFORM,
                "--only-binary=:all:", "--no-deps", "--no-compile",
                "--implementation", "cp",
                "--python-version", LAYER_PYTHON_VERSION,
            ],
            check=True,
        )  # fmt: skip
        return True


class DependencyLayer(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.layer = lambda_.LayerVersion(
            self,
            "Layer",
            code=lambda_.Code.from_asset(
                str(LAYER_DIR),
                # Hash the requirements, not pip's output: an unchanged layer is not rebuilt.
                asset_hash_type=AssetHashType.SOURCE,
                bundling=BundlingOptions(
                    # Never pulled: local bundling always succeeds or fails loudly.
                    image=DockerImage.from_registry("python:3.14"),
                    local=PipPlatformBundling(LAYER_DIR / "requirements.txt"),
                ),
            ),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="Powertools, pydantic and phonenumbers for the SMS functions",
        )
