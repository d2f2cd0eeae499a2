//! Any text as an `errmsg`: `split_rid` never panics, the message and the rid are parts of the
//! text, and a rid is a non-empty run of ASCII letters, digits and `-`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wechat_cloudbase::split_rid;

fuzz_target!(|data: &[u8]| {
    let Ok(errmsg) = std::str::from_utf8(data) else { return };
    let (message, rid) = split_rid(errmsg);
    assert!(errmsg.contains(message));
    if let Some(rid) = rid {
        assert!(!rid.is_empty() && rid.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
        assert!(errmsg.trim_end().ends_with(rid));
    }
});
