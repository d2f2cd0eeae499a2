//! Any text as an `errmsg`: `split_rid` never panics; without a rid the message is the whole text
//! trimmed; a rid is part of the text, a run of at least 8 ASCII letters, digits and `-` with a
//! digit, and the message is shorter than the text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wechat_cloudbase::split_rid;

fuzz_target!(|data: &[u8]| {
    let Ok(errmsg) = std::str::from_utf8(data) else { return };
    let (message, rid) = split_rid(errmsg);
    match rid {
        None => assert_eq!(message, errmsg.trim()),
        Some(rid) => {
            assert!(rid.len() >= 8 && rid.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
            assert!(rid.bytes().any(|b| b.is_ascii_digit()));
            assert!(errmsg.contains(rid));
            assert!(message.len() < errmsg.len());
        }
    }
});
