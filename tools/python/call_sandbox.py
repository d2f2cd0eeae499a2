"""Calls a running sandbox with the Python client generated from the spec, as a Python team would.

Usage: python call_sandbox.py BASE_URL. Exits non-zero (with a message) when an answer is not the
one the spec and the sandbox promise. Run by `cargo xtask spec`.
"""

import sys

from wechat_cloudbase_client import Client
from wechat_cloudbase_client.api.cloudbase import get_share_cloudbase_env, unshare_cloudbase_env
from wechat_cloudbase_client.api.component import get_component_access_token
from wechat_cloudbase_client.models import (
    ComponentAccessTokenRequest,
    EnvAppids,
    GetShareCloudbaseEnvRequest,
    BatchEnvRequest,
)

ENV = "test-env-6gni9ity244a6ea3"
APPIDS = ["wx5fe6bb43205e9e07", "wx075cf85bf347b6df"]


def main(base_url: str) -> None:
    # The sandbox's own credentials (printed when it starts); not secrets.
    anonymous = Client(base_url=base_url, raise_on_unexpected_status=True)
    issued = get_component_access_token.sync(
        client=anonymous,
        body=ComponentAccessTokenRequest(
            component_appid="wx00000000sandbox",
            component_appsecret="sandbox-component-appsecret",
            component_verify_ticket="ticket@@@sandbox",
        ),
    )
    assert issued is not None and issued.component_access_token, issued
    assert issued.expires_in == 7200, issued

    # The token is the `component_access_token` apiKey scheme: an `access_token` query parameter.
    client = Client(
        base_url=base_url,
        raise_on_unexpected_status=True,
        httpx_args={"params": {"access_token": issued.component_access_token}},
    )
    request = BatchEnvRequest(
        data=[EnvAppids(env=ENV, appids=APPIDS)],
        source_type=1,
    )
    lookup = GetShareCloudbaseEnvRequest(appids=APPIDS, source_type=1)
    before = get_share_cloudbase_env.sync(client=client, body=lookup)
    assert before is not None and before.errcode == 0, before
    assert all(ENV in r.env_list for r in before.relation_data), before

    first = unshare_cloudbase_env.sync(client=client, body=request)
    assert first is not None and first.errcode == 0 and not first.err_list, first

    after = get_share_cloudbase_env.sync(client=client, body=lookup)
    assert after is not None and after.errcode == 0, after
    assert sorted(r.appid for r in after.relation_data) == sorted(APPIDS), after
    assert all(ENV not in r.env_list for r in after.relation_data), after

    again = unshare_cloudbase_env.sync(client=client, body=request)
    assert again is not None and again.errcode == 0, again
    assert sorted(f.appid for f in again.err_list) == sorted(APPIDS), again

    bad = Client(base_url=base_url, httpx_args={"params": {"access_token": "not-a-token"}})
    refused = unshare_cloudbase_env.sync(client=bad, body=request)
    assert refused is not None and refused.errcode == 40014 and "rid: " in refused.errmsg, refused
    print(
        "python client: token issued, both appids listed with the env, 2 pairs unshared, listed without it"
        " afterwards, repeat reported both in err_list, bad token got 40014"
    )


if __name__ == "__main__":
    main(sys.argv[1])
