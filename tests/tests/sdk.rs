//! The wrapper crate as an application uses it, against the sandbox.

use wechat_cloudbase::{AccessToken, BatchOutcome, Client, EnvAppid, Error, ErrorClass, UnshareRequest};
use wechat_cloudbase_sandbox::{SANDBOX_ACCESS_TOKEN, Sandbox, SandboxConfig};

const ENV: &str = "test-env-6gni9ity244a6ea3";
const APPIDS: [&str; 2] = ["wx5fe6bb43205e9e07", "wx075cf85bf347b6df"];

async fn setup() -> (Sandbox, Client) {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let client = Client::new(&sandbox.base_url(), AccessToken::new(SANDBOX_ACCESS_TOKEN)).unwrap();
    (sandbox, client)
}

fn pair(env: &str, appid: &str) -> EnvAppid {
    EnvAppid::new(env, appid)
}

#[tokio::test]
async fn the_documented_request_unshares_both_pairs() {
    let (sandbox, client) = setup().await;
    let unshared = client
        .unshare_cloudbase_env(&UnshareRequest::new().env(ENV, APPIDS))
        .await
        .and_then(BatchOutcome::into_result)
        .unwrap();
    assert_eq!(unshared.proven.clone(), [pair(ENV, APPIDS[0]), pair(ENV, APPIDS[1])]);
    assert_eq!(unshared.proven.len(), 2);
    assert_eq!(unshared.attempts, 1);
    assert!(sandbox.shared_pairs().is_empty());
}

#[tokio::test]
async fn unsharing_again_is_a_partial_failure_naming_every_pair() {
    let (_sandbox, client) = setup().await;
    let request = UnshareRequest::new().env(ENV, APPIDS);
    client.unshare_cloudbase_env(&request).await.and_then(BatchOutcome::into_result).unwrap();
    let error = client.unshare_cloudbase_env(&request).await.and_then(BatchOutcome::into_result).unwrap_err();
    let Error::Partial(partial) = &error else { panic!("{error:?}") };
    assert_eq!(partial.failed.len(), 2);
    assert!(partial.proven.is_empty());
    assert_eq!(error.errcode(), Some(0));
    assert_eq!(error.class(), Some(ErrorClass::Ok));
}

#[tokio::test]
async fn a_partial_failure_lists_the_failed_and_the_unshared_pairs() {
    let (sandbox, client) = setup().await;
    sandbox.share("env-2", "wx00000000000000a1");
    let request = UnshareRequest::new()
        .env(ENV, [APPIDS[0], "wx00000000000000ff"])
        .env("env-2", ["wx00000000000000a1"]);
    let Err(Error::Partial(partial)) =
        client.unshare_cloudbase_env(&request).await.and_then(BatchOutcome::into_result)
    else {
        panic!()
    };
    assert_eq!(partial.failed.len(), 1);
    assert_eq!(partial.failed[0].env.as_deref(), Some(ENV));
    assert_eq!(partial.failed[0].appid.as_deref(), Some("wx00000000000000ff"));
    assert_eq!(partial.proven, [pair(ENV, APPIDS[0]), pair("env-2", "wx00000000000000a1")]);
    assert!(sandbox.is_shared(ENV, APPIDS[1]), "pairs not asked for stay shared");
}

#[tokio::test]
async fn invalid_requests_are_refused_with_the_field_path_and_nothing_is_sent() {
    let (sandbox, client) = setup().await;
    let cases = [
        (UnshareRequest::new(), "data"),
        (UnshareRequest::new().env("", APPIDS), "data[0].env"),
        (UnshareRequest::new().env(ENV, APPIDS).env("env-2", Vec::<String>::new()), "data[1].appids"),
        (UnshareRequest::new().env(ENV, APPIDS).env("env-2", ["wx1", ""]), "data[1].appids[1]"),
        (UnshareRequest::new().env(ENV, ["wx1 wx2"]), "data[0].appids[0]"),
    ];
    for (request, field) in cases {
        let error =
            client.unshare_cloudbase_env(&request).await.and_then(BatchOutcome::into_result).unwrap_err();
        let Error::InvalidRequest(invalid) = &error else { panic!("{field}: {error:?}") };
        assert_eq!(invalid.field, field);
        assert!(error.to_string().contains(&format!("`{field}`")), "{error}");
        assert_eq!(error.attempts(), 0);
    }
    assert_eq!(sandbox.requests_received(), 0, "nothing was sent");
    assert_eq!(sandbox.shared_pairs().len(), 2, "nothing was lost");
}

#[tokio::test]
async fn an_env_without_cloud_development_is_not_permitted() {
    let config = SandboxConfig::default().with_no_qbase_envs(vec![ENV.into()]);
    let sandbox = Sandbox::start(config).await.unwrap();
    let client = Client::new(&sandbox.base_url(), AccessToken::new(SANDBOX_ACCESS_TOKEN)).unwrap();
    let error = client
        .unshare_cloudbase_env(&UnshareRequest::new().env(ENV, APPIDS))
        .await
        .and_then(BatchOutcome::into_result)
        .unwrap_err();
    assert_eq!(error.errcode(), Some(85088));
    assert_eq!(error.class(), Some(ErrorClass::NotPermitted));
    assert!(error.rid().is_some_and(|rid| rid.len() == 26), "{error}");
}

#[test]
fn bad_base_urls_are_refused_when_the_client_is_built() {
    for url in ["", "api.weixin.qq.com", "ftp://127.0.0.1", "http://127.0.0.1/?access_token=x"] {
        let error = Client::new(url, AccessToken::new("t")).unwrap_err();
        assert!(matches!(error, Error::InvalidRequest(ref v) if v.field == "base_url"), "{url}: {error:?}");
    }
}
