//! Every recorded case of `tests/data/cases/` (copied from the team's shared cases) runs through
//! the `wechat-cloudbase` binary against a scripted server on 127.0.0.1, as an operator would.

use std::time::Duration;

use integration_tests::{
    Case, CaseExpect, CliRun, ScriptedServer, cases_dir, load_cases, run_cli, workspace_root,
};

/// A token that must never appear in any output, for cases that do not name their own.
const TOKEN: &str = "tok-NEVER-PRINT-5f1c2d9e";

/// The forms in which a token must never appear: as it is, each byte percent-encoded (upper and
/// lower case hex), and, for a token with whitespace around it, its visible part.
fn leak_forms(token: &str) -> Vec<String> {
    let mut forms = vec![token.to_owned()];
    for core in [token, token.trim()] {
        forms.push(core.to_owned());
        forms.push(core.bytes().map(|b| format!("%{b:02X}")).collect());
        forms.push(core.bytes().map(|b| format!("%{b:02x}")).collect());
    }
    forms
}

fn load_case(name: &str) -> Case {
    load_cases(&cases_dir())
        .into_iter()
        .map(|(_, case)| case)
        .find(|case| case.name == name)
        .unwrap_or_else(|| panic!("no case named {name}"))
}

/// Runs a case through the CLI and checks it against `expect`; returns the run, its JSON
/// report and the server, for further checks.
async fn run_case_expecting(case: &Case, expect: &CaseExpect) -> (CliRun, serde_json::Value, ScriptedServer) {
    let name = &case.name;
    let token = case.token.as_deref().unwrap_or(TOKEN);
    let server = ScriptedServer::start(case.responses.clone()).await;
    let base_url = server.base_url();
    let mut args = vec!["unshare", "--base-url", &base_url, "--env", &case.request.env, "--json"];
    for appid in &case.request.appids {
        args.extend(["--appid", appid.as_str()]);
    }
    let limit = Duration::from_secs(expect.max_seconds.unwrap_or(20));
    // RUST_LOG=trace so that any log line that would carry the token is produced.
    let run = run_cli(&args, &[("WECHAT_COMPONENT_ACCESS_TOKEN", token), ("RUST_LOG", "trace")], limit).await;
    let context = format!("case {name} ({}): {run:#?}", case.about);

    for form in leak_forms(token) {
        assert!(
            !run.stdout.contains(&form) && !run.stderr.contains(&form),
            "token leaked as {form:?}; {context}"
        );
    }
    assert_eq!(run.code, Some(expect.exit), "exit code; {context}");
    let report = run.json();
    assert_eq!(report["kind"], expect.kind.as_str(), "kind; {context}");
    assert_eq!(report["ok"], expect.exit == 0, "ok; {context}");
    if let Some(errcode) = expect.errcode {
        assert_eq!(report["errcode"], errcode, "errcode; {context}");
    }
    if let Some(rid) = &expect.rid {
        assert_eq!(report["rid"], rid.as_str(), "rid; {context}");
    }
    if let Some(status) = expect.http_status {
        assert_eq!(report["http_status"], status, "http_status; {context}");
    }
    if let Some(len) = expect.err_list_len {
        assert_eq!(report["err_list"].as_array().map(Vec::len), Some(len), "err_list; {context}");
    }
    if let Some(len) = expect.unshared_len {
        assert_eq!(report["unshared"].as_array().map(Vec::len), Some(len), "unshared; {context}");
    }

    let seen = server.count();
    let sent = report["attempts"].as_u64().unwrap() + report["verification_attempts"].as_u64().unwrap();
    assert_eq!(sent, seen as u64, "attempts and verification_attempts count the requests sent; {context}");
    if let Some(n) = expect.attempts {
        assert_eq!(seen, n, "requests seen; {context}");
    }
    if let Some(n) = expect.attempts_min {
        assert!(seen >= n, "requests seen {seen} < {n}; {context}");
    }
    if let Some(n) = expect.attempts_max {
        assert!(seen <= n, "requests seen {seen} > {n}; {context}");
    }

    let expected_body = serde_json::json!({
        "data": [{"env": case.request.env, "appids": case.request.appids}],
        "source_type": 1,
    });
    // The follow-up lookup of unproven pairs asks for their appids.
    let expected_lookup = serde_json::json!({"appids": case.request.appids, "source_type": 1});
    for request in server.received() {
        assert_eq!(request.method, "POST");
        assert_eq!(request.query.as_deref(), Some(format!("access_token={token}").as_str()));
        let body: serde_json::Value = serde_json::from_slice(&request.body).expect("the CLI sends JSON");
        match request.path.as_str() {
            "/componenttcb/batchunshareenv" => assert_eq!(body, expected_body, "{context}"),
            "/componenttcb/batchgetenvid" => assert_eq!(body, expected_lookup, "{context}"),
            other => panic!("unexpected path {other}; {context}"),
        }
        // Only what WeChat documents, and what HTTP itself needs, is sent.
        let mut names: Vec<&str> = request.headers.keys().map(|name| name.as_str()).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            ["accept", "accept-encoding", "content-length", "content-type", "host"],
            "{context}"
        );
        assert_eq!(request.headers["content-type"], "application/json", "{context}");
    }
    (run, report, server)
}

async fn run_case(name: &str) {
    let case = load_case(name);
    run_case_expecting(&case, &case.expect).await;
}

macro_rules! cases {
    ($($test:ident => $name:literal,)*) => {
        $(
            #[tokio::test]
            async fn $test() {
                run_case($name).await;
            }
        )*

        const NAMES: &[&str] = &[$($name),*];
    };
}

cases! {
    a_pair_reported_not_shared_after_a_lost_answer_is_looked_up_and_proven_unshared => "retry-after-lost-response",
    a_json_array_in_place_of_the_answer_is_a_decode_failure => "array-as-answer",
    a_null_err_list_is_no_failure => "err-list-null",
    an_err_list_naming_no_requested_pair_leaves_the_pairs_unverified => "err-list-unmatched",
    the_rid_is_found_before_more_text => "rid-then-more-text",
    a_token_with_whitespace_is_refused_before_sending => "token-whitespace",
    bom_prefixed_json_is_decoded => "bom-prefixed",
    busy_twice_then_ok_is_retried_to_success => "busy-then-ok",
    documented_partial_reply_is_exit_3_with_err_list => "doc-sample-partial",
    documented_sample_succeeds => "doc-sample",
    empty_200_is_a_decode_failure => "empty-200",
    gateway_504_html_is_retried_boundedly_then_http_failure => "gateway-504-html",
    rid_is_split_out_of_errmsg => "rid-in-errmsg",
    json_labelled_text_plain_is_decoded_by_body => "text-plain-json",
    unknown_fields_are_ignored => "unknown-fields",
}

#[test]
fn every_case_file_has_a_test() {
    let mut files: Vec<String> = load_cases(&cases_dir()).into_iter().map(|(_, c)| c.name).collect();
    files.sort();
    let mut names: Vec<&str> = NAMES.to_vec();
    names.sort();
    assert_eq!(files, names, "add a line to `cases!` for each new case");
}

/// The team's shared cases live beside the repository (`../shared/cases/`) where they are
/// handed out; when they are there, the copies in `tests/data/cases/` must be the same.
#[test]
fn repository_copies_match_the_shared_cases_when_present() {
    let shared = workspace_root().join("../shared/cases");
    if !shared.is_dir() {
        eprintln!("{} is not present; the repository's copies are used as they are", shared.display());
        return;
    }
    let ours = load_cases(&cases_dir());
    let theirs = load_cases(&shared);
    let names = |v: &[(std::path::PathBuf, Case)]| {
        v.iter().map(|(p, _)| p.file_name().unwrap().to_owned()).collect::<Vec<_>>()
    };
    assert_eq!(names(&ours), names(&theirs), "copy new cases from ../shared/cases into tests/data/cases");
    for ((ours, _), (theirs, _)) in ours.iter().zip(&theirs) {
        let a: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(ours).unwrap()).unwrap();
        let b: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(theirs).unwrap()).unwrap();
        assert_eq!(a, b, "{} differs from the shared copy", ours.display());
    }
}
