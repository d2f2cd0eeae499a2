//! The generated code is reviewed through a snapshot, and held against the spec so that
//! generation can never silently drop or loosen a field.

use std::collections::BTreeSet;

use serde_json::Value;
use wechat_cloudbase_openapi::operations::{
    GetComponentAccessToken, GetShareCloudbaseEnv, ShareCloudbaseEnv, UnshareCloudbaseEnv,
};
use wechat_cloudbase_openapi::{types, Operation, SECURED_OPERATIONS, SPEC_ERRCODES};

fn spec() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/wechat-cloudbase.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("read the spec")).expect("the spec is JSON")
}

/// Every change to what progenitor generates shows up in review as a snapshot change.
/// Refresh with `cargo xtask generate`.
#[test]
fn generated_code_matches_the_reviewed_snapshot() {
    let code = include_str!(concat!(env!("OUT_DIR"), "/codegen.rs")).replace("\r\n", "\n");
    insta::assert_snapshot!("codegen", code);
}

/// The same for the `Operation` and `Answer` impls `build.rs` writes itself.
#[test]
fn generated_code_of_the_operations_matches_the_reviewed_snapshot() {
    let code = include_str!(concat!(env!("OUT_DIR"), "/operations.rs")).replace("\r\n", "\n");
    insta::assert_snapshot!("operations", code);
}

/// The same for the error-code table and the `ErrorCode` and `ErrorClass` enums.
#[test]
fn generated_code_of_the_errcodes_matches_the_reviewed_snapshot() {
    let code = include_str!(concat!(env!("OUT_DIR"), "/errcodes.rs")).replace("\r\n", "\n");
    insta::assert_snapshot!("errcodes", code);
}

/// Each operation's metadata is the spec's: its operationId, `x-wechat-idempotent` and security.
#[test]
fn every_operation_carries_the_specs_metadata() {
    use wechat_cloudbase_openapi::{operations, Operation};
    fn meta<O: Operation>() -> (&'static str, bool, bool) {
        (O::OPERATION_ID, O::IDEMPOTENT, O::SECURED)
    }
    assert_eq!(meta::<operations::UnshareCloudbaseEnv>(), ("unshareCloudbaseEnv", true, true));
    assert_eq!(meta::<operations::ShareCloudbaseEnv>(), ("shareCloudbaseEnv", true, true));
    assert_eq!(meta::<operations::GetShareCloudbaseEnv>(), ("getShareCloudbaseEnv", true, true));
    assert_eq!(meta::<operations::GetComponentAccessToken>(), ("getComponentAccessToken", false, false));
    let spec = spec();
    for (path, item) in spec["paths"].as_object().unwrap() {
        let op = &item["post"];
        assert!(op["x-wechat-idempotent"].is_boolean(), "{path} says whether it is safe to repeat");
    }
}

fn names(value: Option<&Value>) -> BTreeSet<String> {
    match value {
        Some(Value::Object(map)) => map.keys().cloned().collect(),
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => BTreeSet::new(),
    }
}

/// The JSON Schema schemars derives for a generated type has the same properties, and the same
/// required ones, as the spec's component.
fn same_shape<T: schemars::JsonSchema>(component: &str) {
    let spec = spec();
    let expected = &spec["components"]["schemas"][component];
    assert!(expected.is_object(), "the spec has no component {component}");
    let generated = serde_json::to_value(schemars::schema_for!(T)).unwrap();
    assert_eq!(
        names(generated.get("properties")),
        names(expected.get("properties")),
        "properties of {component}"
    );
    assert_eq!(names(generated.get("required")), names(expected.get("required")), "required of {component}");
}

#[test]
fn generated_types_have_the_spec_components_properties_and_required_fields() {
    same_shape::<types::BatchEnvRequest>("BatchEnvRequest");
    same_shape::<types::EnvAppids>("EnvAppids");
    same_shape::<types::UnshareCloudbaseEnvResponse>("UnshareCloudbaseEnvResponse");
    same_shape::<types::PairFailure>("PairFailure");
    same_shape::<types::ComponentAccessTokenRequest>("ComponentAccessTokenRequest");
    same_shape::<types::ComponentAccessTokenResponse>("ComponentAccessTokenResponse");
    same_shape::<types::GetShareCloudbaseEnvRequest>("GetShareCloudbaseEnvRequest");
    same_shape::<types::GetShareCloudbaseEnvResponse>("GetShareCloudbaseEnvResponse");
    same_shape::<types::AppidEnvs>("AppidEnvs");
    same_shape::<types::LookupFailure>("LookupFailure");
}

#[test]
fn the_id_types_keep_the_specs_constraint() {
    let spec = spec();
    for (name, generated) in [
        ("EnvId", serde_json::to_value(schemars::schema_for!(types::EnvId)).unwrap()),
        ("Appid", serde_json::to_value(schemars::schema_for!(types::Appid)).unwrap()),
    ] {
        let expected = &spec["components"]["schemas"][name];
        assert_eq!(generated["type"], expected["type"], "{name}");
        assert_eq!(expected["minLength"], 1, "{name}");
    }
    // typify checks `minLength` when an id is built or decoded (its derived JSON Schema omits it).
    assert!(types::EnvId::try_from(String::new()).is_err(), "an empty id is refused");
    assert!(serde_json::from_str::<types::Appid>(r#""""#).is_err(), "and not decoded either");
}

#[test]
fn responses_stay_open_to_fields_added_later() {
    let answer: types::UnshareCloudbaseEnvResponse =
        serde_json::from_str(r#"{"errcode":0,"errmsg":"ok","err_list":[{"env":"e","x":1}],"new":{"a":[1]}}"#)
            .expect("unknown fields are ignored");
    assert_eq!(answer.errcode.0, 0);
    assert_eq!(answer.err_list.unwrap()[0].env.as_deref(), Some("e"));
    for component in ["UnshareCloudbaseEnvResponse", "PairFailure", "ComponentAccessTokenResponse"] {
        assert!(
            spec()["components"]["schemas"][component].get("additionalProperties").is_none(),
            "{component} must not close additionalProperties"
        );
    }
}

#[test]
fn a_null_err_list_decodes_as_no_list() {
    let answer: types::UnshareCloudbaseEnvResponse =
        serde_json::from_str(r#"{"errcode":0,"errmsg":"ok","err_list":null}"#).expect("null is accepted");
    assert_eq!(answer.err_list, None);
}

#[test]
fn errcode_is_never_an_enum_so_unknown_codes_decode() {
    let answer: types::UnshareCloudbaseEnvResponse =
        serde_json::from_str(r#"{"errcode":61006,"errmsg":"x"}"#).expect("any integer errcode decodes");
    assert_eq!(answer.errcode.0, 61006);
    assert!(spec()["components"]["schemas"]["Errcode"].get("enum").is_none());
}

#[test]
fn the_errcode_table_is_the_specs() {
    let spec = spec();
    let rows = spec["x-wechat-errcodes"].as_array().expect("x-wechat-errcodes is a list");
    assert_eq!(rows.len(), SPEC_ERRCODES.len());
    for (row, generated) in rows.iter().zip(SPEC_ERRCODES) {
        assert_eq!(row["code"].as_i64(), Some(generated.code));
        assert_eq!(row["class"].as_str(), Some(generated.class));
        assert_eq!(row["errmsg"].as_str(), Some(generated.errmsg));
        assert_eq!(row["name"].as_str(), Some(generated.name));
    }
    let codes: BTreeSet<i64> = SPEC_ERRCODES.iter().map(|r| r.code).collect();
    let documented = [0, -1, -1000, 40014, 40097, 40101, 41001, 42001, 43002, 44002, 47001, 85088];
    // The three CloudBase pages document the same twelve codes; each is a row of the table.
    for op in [ShareCloudbaseEnv::ERRCODES, UnshareCloudbaseEnv::ERRCODES, GetShareCloudbaseEnv::ERRCODES] {
        assert_eq!(op, documented, "each page documents exactly these codes");
    }
    assert!(GetComponentAccessToken::ERRCODES.iter().all(|c| codes.contains(c)));
    assert!(documented.iter().all(|c| codes.contains(c)));
}

#[test]
fn only_operations_secured_by_the_spec_carry_the_token() {
    assert_eq!(
        SECURED_OPERATIONS,
        ["share_cloudbase_env", "unshare_cloudbase_env", "get_share_cloudbase_env"]
    );
}
