//! One flavour of unshare call, repeated, on one thread: the subject of the instruction counts
//! in `cargo xtask bench` (valgrind's callgrind counts the instructions; the count is repeatable
//! where timings on a shared 2-vCPU machine are not).
//!
//! Usage: `instructions <ours|generated|reqwest|reqwest_timeout|hyper> <calls>`. The server runs on the same
//! thread, so its instructions are counted alike for every flavour.

use wechat_cloudbase::{AccessToken, Client};
use wechat_cloudbase_bench::{
    OK_BODY, PATH, TOKEN, fixed_server, plain_reqwest_call, raw_client, raw_hyper_call, sample_request,
};

fn main() {
    let mut args = std::env::args().skip(1);
    let flavour = args.next().unwrap_or_default();
    let calls: usize = args.next().and_then(|n| n.parse().ok()).expect("usage: instructions FLAVOUR CALLS");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let base = format!("http://{}", rt.block_on(fixed_server(OK_BODY)));
    let url = format!("{base}{PATH}?access_token={TOKEN}");
    let (request, plain) = sample_request();
    rt.block_on(async {
        match flavour.as_str() {
            "ours" => {
                let client = Client::new(&base, AccessToken::new(TOKEN)).expect("a client");
                for _ in 0..calls {
                    client.unshare_cloudbase_env(&request).await.expect("unshared");
                }
            }
            "generated" => {
                let wire = wechat_cloudbase::__private::wire_request(&request).expect("valid");
                let http = wechat_cloudbase_bench::reqwest_client();
                let token = wechat_cloudbase_openapi::AccessToken::new(TOKEN);
                for _ in 0..calls {
                    let context = wechat_cloudbase_openapi::CallContext::new(
                        Some(token.clone()),
                        wechat_cloudbase::DEFAULT_MAX_BODY_BYTES,
                    );
                    let client =
                        wechat_cloudbase_openapi::Client::new_with_client(&base, http.clone(), context);
                    client.unshare_cloudbase_env(wire).await.expect("an answer");
                }
            }
            "reqwest" | "reqwest_timeout" => {
                // `reqwest_timeout`: the same, with the timeout every careful caller sets (the
                // SDK's default request timeout), to attribute what a timeout costs reqwest.
                let http = match flavour.as_str() {
                    "reqwest" => wechat_cloudbase_bench::reqwest_client(),
                    _ => wechat_cloudbase_bench::reqwest_builder()
                        .timeout(wechat_cloudbase::DEFAULT_REQUEST_TIMEOUT)
                        .build()
                        .expect("a client"),
                };
                for _ in 0..calls {
                    plain_reqwest_call(&http, &url, &plain).await;
                }
            }
            "hyper" => {
                let raw = raw_client();
                let uri: hyper::Uri = url.parse().expect("a URI");
                for _ in 0..calls {
                    raw_hyper_call(&raw, &uri, &plain).await;
                }
            }
            other => panic!("unknown flavour {other:?}: ours, generated, reqwest, reqwest_timeout or hyper"),
        }
    });
}
