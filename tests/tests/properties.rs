//! Property tests over the answer decoder, the `rid` parser and request validation: they hold for
//! any input proptest can find, not only for the recorded cases.

use proptest::prelude::*;
use wechat_cloudbase::__private::{decode_unshare_body, encode_unshare_request};
use wechat_cloudbase::{EnvAppid, Error, UnshareRequest, split_rid};

fn request() -> UnshareRequest {
    UnshareRequest::new().env("env-a", ["wx1", "wx2"]).env("env-b", ["wx1"])
}

/// An `err_list` entry drawn from ids that may or may not be in the request.
fn entry() -> impl Strategy<Value = serde_json::Value> {
    let env = prop::option::of(prop::sample::select(vec!["env-a", "env-b", "env-z"]));
    let appid = prop::option::of(prop::sample::select(vec!["wx1", "wx2", "wx9"]));
    (env, appid, prop::option::of(".{0,20}")).prop_map(|(env, appid, errmsg)| {
        let mut object = serde_json::Map::new();
        if let Some(env) = env {
            object.insert("env".into(), env.into());
        }
        if let Some(appid) = appid {
            object.insert("appid".into(), appid.into());
        }
        if let Some(errmsg) = errmsg {
            object.insert("errmsg".into(), errmsg.into());
        }
        serde_json::Value::Object(object)
    })
}

/// Found by `cargo xtask fuzz` (decode_answer): bytes that are not UTF-8 inside an unknown field.
/// serde skips unknown fields without checking them, so the answer decodes; the decision is to
/// keep that tolerance (the fields that matter are checked), and this test pins it.
#[test]
fn non_utf8_bytes_inside_an_unknown_field_are_skipped_like_the_field() {
    let mut body =
        br#"{"errcode": 0, "errmsg": "ok", "err_list": [], "request_id": "x", "extra": {""#.to_vec();
    body.extend([0x85; 12]);
    body.extend(br#"a": [1, 2]}}"#);
    assert!(serde_json::from_slice::<serde_json::Value>(&body).is_err(), "not strictly JSON");
    let unshared = decode_unshare_body(&body, &request()).expect("decoded");
    assert_eq!(unshared.proven.len(), 3);
    // In a field that matters, the same bytes are a decode error.
    let mut bad = br#"{"errcode": 0, "errmsg": ""#.to_vec();
    bad.extend([0x85; 3]);
    bad.extend(br#""}"#);
    assert!(matches!(decode_unshare_body(&bad, &request()), Err(Error::Decode(_))));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Any bytes at all: an outcome or a typed error, never a panic, and never a success unless
    /// the body (without a BOM) is a JSON object with errcode 0.
    #[test]
    fn any_bytes_decode_to_an_outcome_or_a_typed_error(body in prop::collection::vec(any::<u8>(), 0..256)) {
        let result = decode_unshare_body(&body, &request());
        if result.is_ok() {
            let stripped = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&body);
            let value: serde_json::Value = serde_json::from_slice(stripped).unwrap();
            prop_assert!(value.is_object(), "only an object is an answer");
            prop_assert_eq!(&value["errcode"], &serde_json::json!(0));
        }
    }

    /// Any well-formed answer: the outcome follows the errcode and err_list exactly.
    #[test]
    fn well_formed_answers_map_to_the_documented_outcome(
        errcode in prop_oneof![Just(0i64), any::<i64>()],
        errmsg in ".{0,40}",
        err_list in prop::collection::vec(entry(), 0..6),
        bom in any::<bool>(),
    ) {
        let answer = serde_json::json!({"errcode": errcode, "errmsg": errmsg, "err_list": err_list, "later": [1]});
        let mut body = if bom { b"\xEF\xBB\xBF".to_vec() } else { Vec::new() };
        body.extend(serde_json::to_vec(&answer).unwrap());
        let requested = request().pairs();
        match decode_unshare_body(&body, &request()) {
            Ok(partial) => {
                prop_assert_eq!(errcode, 0);
                prop_assert_eq!(partial.is_complete(), err_list.is_empty());
                if err_list.is_empty() {
                    prop_assert_eq!(&partial.proven, &requested);
                }
                prop_assert_eq!(partial.failed.len() + partial.unmatched.len(), err_list.len());
                let names = |f: &wechat_cloudbase::FailedPair, pair: &EnvAppid| {
                    f.env.as_deref() == Some(pair.env.as_str()) && f.appid.as_deref() == Some(pair.appid.as_str())
                };
                // Every requested pair is in exactly one place; only an answer whose every entry
                // names a requested pair proves anything about the pairs it does not name.
                for pair in &requested {
                    let failed = partial.failed.iter().any(|f| names(f, pair));
                    let places = [failed, partial.proven.contains(pair), partial.unverified.contains(pair)];
                    prop_assert_eq!(places.iter().filter(|&&p| p).count(), 1, "{:?} in {:?}", pair, partial);
                }
                for failed in &partial.failed {
                    prop_assert!(requested.iter().any(|pair| names(failed, pair)));
                }
                for unmatched in &partial.unmatched {
                    prop_assert!(!requested.iter().any(|pair| names(unmatched, pair)));
                }
                prop_assert!(partial.unmatched.is_empty() || partial.proven.is_empty());
            }
            Err(error) => {
                prop_assert_ne!(errcode, 0);
                prop_assert_eq!(error.errcode(), Some(errcode), "the raw errcode is kept");
            }
        }
    }

    /// `split_rid` finds a request id wherever it stands in the errmsg, followed by any of the
    /// tails WeChat writes: the rid comes back exactly, and the message keeps the words around it
    /// and no `rid:`.
    #[test]
    fn split_rid_finds_the_rid_and_keeps_the_words_around_it(
        words in prop::collection::vec("[a-zA-Z0-9_\\[\\]错误无效]{1,8}", 0..5),
        separator in prop::sample::select(vec!["", ",", ";", ":"]),
        groups in prop::collection::vec("[0-9a-f]{8}", 1..4),
        space in prop::sample::select(vec!["", " "]),
        suffix in prop::sample::select(vec!["", ".", ",", ", from ip: 1.2.3.4", " hints: [ a b ]", "; more"]),
    ) {
        let rid = groups.join("-");
        prop_assume!(rid.bytes().any(|b| b.is_ascii_digit()), "WeChat's rids hold a digit");
        let prefix = words.join(" ");
        let errmsg = format!("{prefix}{separator} rid:{space}{rid}{suffix}");
        let (message, found) = split_rid(&errmsg);
        prop_assert_eq!(found, Some(rid.as_str()), "{:?}", errmsg);
        prop_assert!(!message.contains("rid:"), "{:?} -> {:?}", errmsg, message);
        for word in &words {
            prop_assert!(message.contains(word.as_str()), "{:?} -> {:?} lost {:?}", errmsg, message, word);
        }
        let kept = suffix.trim_start_matches([',', ';', '.']).trim();
        prop_assert!(message.contains(kept), "{:?} -> {:?} lost {:?}", errmsg, message, kept);
        prop_assert_eq!(message.trim(), &message[..]);
    }

    /// `split_rid` never panics, and what it returns is the whole text or a rid from it.
    #[test]
    fn split_rid_never_panics_on_any_text(text in "(.|rid: ?|[0-9a-f-]{4,10}| ){0,30}") {
        let (message, rid) = split_rid(&text);
        match rid {
            None => prop_assert_eq!(&message[..], text.trim()),
            Some(rid) => {
                prop_assert!(text.contains(rid) && rid.len() >= 8);
                prop_assert!(rid.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
                prop_assert!(message.len() < text.len());
            }
        }
    }

    /// Validation accepts exactly the requests whose ids are non-empty and free of whitespace and
    /// control characters, and names the first offending field.
    #[test]
    fn validation_accepts_exactly_the_well_formed_requests(
        data in prop::collection::vec((".{0,6}", prop::collection::vec(".{0,6}", 0..3)), 0..4),
    ) {
        let mut request = UnshareRequest::new();
        for (env, appids) in &data {
            request = request.env(env.clone(), appids.clone());
        }
        let bad_id = |s: &str| s.is_empty() || s.chars().any(|c| c.is_whitespace() || c.is_control());
        let mut expected_field = None;
        if data.is_empty() {
            expected_field = Some("data".to_owned());
        }
        'outer: for (i, (env, appids)) in data.iter().enumerate() {
            if bad_id(env) {
                expected_field = Some(format!("data[{i}].env"));
                break;
            }
            if appids.is_empty() {
                expected_field = Some(format!("data[{i}].appids"));
                break;
            }
            for (j, appid) in appids.iter().enumerate() {
                if bad_id(appid) {
                    expected_field = Some(format!("data[{i}].appids[{j}]"));
                    break 'outer;
                }
            }
        }
        match (request.validate(), expected_field) {
            (Ok(()), None) => {
                let body: serde_json::Value = serde_json::from_slice(&encode_unshare_request(&request).unwrap()).unwrap();
                prop_assert_eq!(body["source_type"].clone(), serde_json::json!(1));
                let pairs: Vec<EnvAppid> = request.pairs();
                prop_assert_eq!(pairs.len(), data.iter().map(|(_, a)| a.len()).sum::<usize>());
            }
            (Err(error), Some(field)) => prop_assert_eq!(error.field, field),
            (got, expected) => prop_assert!(false, "validate gave {got:?}, expected a failure at {expected:?}"),
        }
    }
}
