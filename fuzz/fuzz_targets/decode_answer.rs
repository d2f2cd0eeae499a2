//! Any bytes as an HTTP 200 answer to an unshare call: the decoder returns an outcome or a typed
//! error, never panics, and succeeds only for a JSON object whose `errcode` is 0.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wechat_cloudbase::UnshareRequest;
use wechat_cloudbase::__private::decode_unshare_body;

fuzz_target!(|body: &[u8]| {
    let request = UnshareRequest::new().env("env-a", ["wx1", "wx2"]).env("env-b", ["wx1"]);
    let result = decode_unshare_body(body, &request);
    if let Ok(unshared) = &result {
        let stripped = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
        let value: serde_json::Value = serde_json::from_slice(stripped).expect("a success is JSON");
        assert_eq!(value["errcode"], 0, "a success has errcode 0");
        assert_eq!(unshared.pairs.len(), 3);
    }
    if let Err(error) = &result {
        // Every error prints, and the one-line message stays one line.
        let text = error.to_string();
        assert!(!text.contains('\n'), "{text:?}");
    }
});
