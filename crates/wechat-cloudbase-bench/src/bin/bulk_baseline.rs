//! The baseline of the bulk benchmark: the least a program can do to unshare the pairs of a CSV
//! file (`env,appid` header) with plain reqwest and serde_json: the same batches as
//! `wechat-cloudbase unshare --from-file` (grouped by env in order of appearance, at most
//! BATCH pairs each), at most CONCURRENCY requests in flight on a current-thread runtime, each
//! answer checked for `errcode` 0 and an empty `err_list`. No retries, no journal, no judging.
//!
//! `bulk_baseline FILE BASE_URL BATCH CONCURRENCY` (the token from
//! `WECHAT_COMPONENT_ACCESS_TOKEN`); prints `{"requests": N, "pairs": N, "not_done": N}`, and
//! exits 3 when some pair was not done.

use std::collections::HashMap;

use futures_util::StreamExt;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [file, base_url, batch, concurrency] = args.as_slice() else {
        eprintln!("usage: bulk_baseline FILE BASE_URL BATCH CONCURRENCY");
        std::process::exit(2);
    };
    let (batch, concurrency): (usize, usize) =
        (batch.parse().expect("BATCH"), concurrency.parse().expect("CONCURRENCY"));
    let token = std::env::var("WECHAT_COMPONENT_ACCESS_TOKEN").expect("WECHAT_COMPONENT_ACCESS_TOKEN");
    let text = std::fs::read_to_string(file).expect("the pairs file");
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for line in text.lines().skip(1).filter(|l| !l.is_empty()) {
        let (env, appid) = line.split_once(',').expect("env,appid");
        let i = *index.entry(env.to_owned()).or_insert_with(|| {
            groups.push((env.to_owned(), Vec::new()));
            groups.len() - 1
        });
        groups[i].1.push(appid.to_owned());
    }
    let bodies: Vec<serde_json::Value> = groups
        .iter()
        .flat_map(|(env, appids)| {
            appids.chunks(batch).map(
                move |chunk| serde_json::json!({"data": [{"env": env, "appids": chunk}], "source_type": 1}),
            )
        })
        .collect();
    let url = format!("{base_url}/componenttcb/batchunshareenv?access_token={token}");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let client = wechat_cloudbase_bench::reqwest_client();
    let (requests, pairs, not_done) = runtime.block_on(async {
        let results: Vec<(usize, usize)> = futures_util::stream::iter(bodies)
            .map(|body| {
                let (client, url) = (&client, &url);
                async move {
                    let pairs = body["data"][0]["appids"].as_array().map_or(0, Vec::len);
                    let answer: serde_json::Value = client
                        .post(url)
                        .json(&body)
                        .send()
                        .await
                        .expect("an answer")
                        .json()
                        .await
                        .expect("JSON");
                    let failed = answer["err_list"].as_array().map_or(0, Vec::len);
                    let not_done = if answer["errcode"] == 0 { failed } else { pairs };
                    (pairs, not_done)
                }
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        (
            results.len(),
            results.iter().map(|r| r.0).sum::<usize>(),
            results.iter().map(|r| r.1).sum::<usize>(),
        )
    });
    println!("{}", serde_json::json!({"requests": requests, "pairs": pairs, "not_done": not_done}));
    if not_done > 0 {
        std::process::exit(3);
    }
}
