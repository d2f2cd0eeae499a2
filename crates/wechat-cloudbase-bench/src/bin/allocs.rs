//! Heap allocations per unshare call: the SDK vs plain reqwest + serde_json, against the same
//! minimal server on 127.0.0.1. Prints one JSON object: `{"ours": N, "reqwest": M}` (blocks per
//! call, averaged over many calls after a warm-up). Run by `cargo xtask bench`.

use wechat_cloudbase::{AccessToken, Client};
use wechat_cloudbase_bench::{OK_BODY, PATH, TOKEN, fixed_server, plain_reqwest_call, sample_request};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

const CALLS: u64 = 2_000;

fn main() {
    let _profiler = dhat::Profiler::builder().testing().build();
    // One thread: the server's and the client's allocations are both counted, alike for both.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let base = format!("http://{}", rt.block_on(fixed_server(OK_BODY)));
    let url = format!("{base}{PATH}?access_token={TOKEN}");
    let ours = Client::new(&base, AccessToken::new(TOKEN)).expect("a client");
    let http = wechat_cloudbase_bench::reqwest_client();
    let (request, plain) = sample_request();
    let per_call = |run: &dyn Fn()| {
        run(); // warm up: connections, pools
        let before = dhat::HeapStats::get().total_blocks;
        for _ in 0..CALLS {
            run();
        }
        (dhat::HeapStats::get().total_blocks - before) as f64 / CALLS as f64
    };
    let ours_blocks = per_call(&|| {
        rt.block_on(ours.unshare_cloudbase_env(&request)).expect("unshared");
    });
    let reqwest_blocks = per_call(&|| {
        rt.block_on(plain_reqwest_call(&http, &url, &plain));
    });
    println!("{}", serde_json::json!({"ours": ours_blocks, "reqwest": reqwest_blocks}));
}
