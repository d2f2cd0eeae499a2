//! Any bytes as an HTTP 200 answer to an unshare call: the decoder returns an outcome or a typed
//! error, never panics, and returns an outcome (every requested pair in exactly one of `proven`,
//! `failed` and `unverified`) only for a JSON object whose `errcode` is 0. Unknown fields
//! are skipped without being checked, as serde does (even bytes that are not UTF-8 inside one:
//! the first finding of this target, kept as a regression test in tests/tests/properties.rs).
#![no_main]

use libfuzzer_sys::fuzz_target;
use wechat_cloudbase::UnshareRequest;
use wechat_cloudbase::__private::decode_unshare_body;

fuzz_target!(|body: &[u8]| {
    let request = UnshareRequest::new().env("env-a", ["wx1", "wx2"]).env("env-b", ["wx1"]);
    let result = decode_unshare_body(body, &request);
    if let Ok(unshared) = &result {
        /// Only the field that decides success, parsed the same lenient way.
        #[derive(serde::Deserialize)]
        struct Head {
            errcode: i64,
        }
        let stripped = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
        let head: Head = serde_json::from_slice(stripped).expect("a success has an errcode");
        assert_eq!(head.errcode, 0, "a success has errcode 0");
        // Every requested pair is in exactly one place.
        let failed = |pair: &wechat_cloudbase::EnvAppid| {
            unshared.failed.iter().any(|f| {
                f.env.as_deref() == Some(pair.env.as_str()) && f.appid.as_deref() == Some(pair.appid.as_str())
            })
        };
        for pair in request.pairs() {
            let places = [unshared.proven.contains(&pair), unshared.unverified.contains(&pair), failed(&pair)];
            assert_eq!(places.iter().filter(|&&p| p).count(), 1, "{pair:?}");
        }
        assert_eq!(unshared.is_complete(), unshared.proven.len() == 3);
    }
    if let Err(error) = &result {
        // Every error prints, and the one-line message stays one line.
        let text = error.to_string();
        assert!(!text.contains('\n'), "{text:?}");
    }
});
