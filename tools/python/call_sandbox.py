"""Calls a running sandbox with the Python client generated from the spec, as a Python team would.

Usage: python call_sandbox.py BASE_URL. Obtains a token, shares a pair, confirms it at the URL the
answer gives, sees it listed, unshares it, sees it gone, and sees a bad token refused. Exits non-zero
(with a message) when an answer is not the one the spec and the sandbox promise. Run by
`cargo xtask spec`.
"""

import sys

import httpx

from wechat_cloudbase_client import Client
from wechat_cloudbase_client.api.cloudbase import (
    get_share_cloudbase_env,
    share_cloudbase_env,
    unshare_cloudbase_env,
)
from wechat_cloudbase_client.api.component import get_component_access_token
from wechat_cloudbase_client.models import (
    BatchEnvRequest,
    ComponentAccessTokenRequest,
    EnvAppids,
    GetShareCloudbaseEnvRequest,
)

ENV = "test-env-6gni9ity244a6ea3"
APPID = "wx5fe6bb43205e9e07"


def envs_of_appid(client: Client) -> list[str]:
    """The envs getShareCloudbaseEnv lists for APPID; the answer must name it and report no error."""
    answer = get_share_cloudbase_env.sync(
        client=client, body=GetShareCloudbaseEnvRequest(appids=[APPID], source_type=1)
    )
    assert answer is not None and answer.errcode == 0 and not answer.err_list, answer
    [relation] = [r for r in answer.relation_data or [] if r.appid == APPID]
    return relation.env_list or []


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
    pair = BatchEnvRequest(data=[EnvAppids(env=ENV, appids=[APPID])], source_type=1)

    shared = share_cloudbase_env.sync(client=client, body=pair)
    assert shared is not None and shared.errcode == 0 and not shared.err_list, shared
    [confirmation] = [m.url for m in shared.msg_info_list or [] if m.appid == APPID]
    # What the mini program's admin does: open the URL. The share takes effect then.
    httpx.get(confirmation).raise_for_status()
    assert ENV in envs_of_appid(client), "the confirmed share is not listed"

    unshared = unshare_cloudbase_env.sync(client=client, body=pair)
    assert unshared is not None and unshared.errcode == 0 and not unshared.err_list, unshared
    assert ENV not in envs_of_appid(client), "the unshared pair is still listed"

    bad = Client(base_url=base_url, httpx_args={"params": {"access_token": "not-a-token"}})
    refused = unshare_cloudbase_env.sync(client=bad, body=pair)
    assert refused is not None and refused.errcode == 40014 and "rid: " in refused.errmsg, refused
    print("python: token issued, shared, confirmed, listed, unshared, no longer listed; a bad token got 40014")


if __name__ == "__main__":
    main(sys.argv[1])
