"""The console ships in the function code asset and is served on public routes of the HTTP API."""

from __future__ import annotations

from infra.functions import CODE_EXCLUDES
from tests.infra.test_stack import resources


def test_the_console_routes_need_no_key_but_every_api_route_does(template_json):
    routes = {
        res["Properties"]["RouteKey"]: res["Properties"]
        for res in resources(template_json, "AWS::ApiGatewayV2::Route").values()
    }
    assert routes["GET /console"]["AuthorizationType"] == "NONE"
    assert routes["GET /console/{proxy+}"]["AuthorizationType"] == "NONE"
    assert routes["ANY /{proxy+}"]["AuthorizationType"] == "CUSTOM"
    assert routes["GET /console"]["Target"] == routes["ANY /{proxy+}"]["Target"]  # the api function


def test_the_code_asset_includes_the_console_files():
    assert "!functions/**" in CODE_EXCLUDES  # functions/console/ goes with the code
