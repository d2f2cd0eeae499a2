//! The request of share and unshare (one set of pairs), and its validation before anything is sent.

use std::collections::{HashMap, HashSet};

// foldhash: fast on short ids, and seeded per process, so hostile ids cannot force collisions.
use foldhash::fast::RandomState;

use wechat_cloudbase_openapi::types;

use crate::error::ValidationError;
use crate::outcome::{BatchAnswer, BatchCall, BatchOperation, BatchOutcome, EnvAppid};
pub use crate::source_type::SourceType;
use crate::transport::Answered;

/// The request of `unshareCloudbaseEnv`: a [`BatchRequest`].
pub type UnshareRequest = BatchRequest;

/// The request of `shareCloudbaseEnv`: a [`BatchRequest`].
pub type ShareRequest = BatchRequest;

/// The request of `shareCloudbaseEnv` and `unshareCloudbaseEnv` (spec schema `BatchEnvRequest`):
/// environments, the mini programs to share each with or unshare it from, and the `source_type`.
/// [`ShareRequest`] and [`UnshareRequest`] name it at call sites.
///
/// Build it with [`BatchRequest::new`] and [`BatchRequest::env`]. Each id is checked as it
/// is added and kept in the generated wire form, so sending copies nothing; a bad value is
/// remembered with the path of its field and the request is refused, before anything is sent,
/// with the first one (see [`BatchRequest::validate`]).
///
/// A request is a **set** of (env, appid) pairs: an env given twice is sent as one `data` entry,
/// and a pair given twice is sent once and listed in [`BatchRequest::duplicates`] (and in the
/// outcome), so that WeChat never sees a repeat it would answer with "not shared".
///
/// ```
/// use wechat_cloudbase::BatchRequest;
///
/// let request = BatchRequest::new()
///     .env("test-env-6gni9ity244a6ea3", ["wx5fe6bb43205e9e07", "wx075cf85bf347b6df"]);
/// assert_eq!(request.pairs().len(), 2);
///
/// let bad = BatchRequest::new().env("env", ["wx1", ""]);
/// assert_eq!(bad.validate().unwrap_err().field, "data[0].appids[1]");
///
/// let repeated = BatchRequest::new().env("env", ["wx1", "wx1"]).env("env", ["wx2", "wx1"]);
/// assert_eq!(repeated.pairs().len(), 2);
/// assert_eq!(repeated.duplicates().len(), 2);
/// ```
#[derive(Debug, Clone)]
pub struct BatchRequest {
    /// The valid entries, already in the generated wire form.
    wire: types::BatchEnvRequest,
    source_type: SourceType,
    /// How many entries were added, valid or not (for field paths).
    entries: usize,
    /// The first invalid value added, if any.
    first_error: Option<ValidationError>,
    /// The pairs given again after their first time, in the order given.
    duplicates: Vec<EnvAppid>,
    /// The index in `wire.data` of each env's entry.
    envs: HashMap<String, usize, RandomState>,
    /// Every pair kept, as its env's index and its appid, to find a repeat.
    pairs: HashSet<(usize, String), RandomState>,
}

impl PartialEq for BatchRequest {
    /// The same pairs in the same order, `source_type`, first error and duplicates.
    fn eq(&self, other: &Self) -> bool {
        self.wire == other.wire
            && self.source_type == other.source_type
            && self.entries == other.entries
            && self.first_error == other.first_error
            && self.duplicates == other.duplicates
    }
}

impl Default for BatchRequest {
    fn default() -> Self {
        Self {
            wire: types::BatchEnvRequest {
                data: Vec::new(),
                source_type: source_type_wire(SourceType::CloudRun),
            },
            source_type: SourceType::CloudRun,
            entries: 0,
            first_error: None,
            duplicates: Vec::new(),
            envs: HashMap::default(),
            pairs: HashSet::default(),
        }
    }
}

/// `source_type` in its wire form.
pub(crate) fn source_type_wire(source_type: SourceType) -> types::SourceType {
    types::SourceType(source_type.code())
}

impl BatchRequest {
    /// An empty request for CloudRun environments; add environments with [`BatchRequest::env`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an environment and the `appid`s to stop sharing it with.
    ///
    /// An empty id, or one with whitespace or control characters, is not added: the request
    /// remembers it (as `data[i].env`, `data[i].appids` or `data[i].appids[j]`, where `i` counts
    /// the calls of this method and `j` the appids given to it) and [`BatchRequest::validate`]
    /// reports the first such value. An env added before gets the new appids in its entry; a
    /// pair added before is not added again but listed in [`BatchRequest::duplicates`].
    #[must_use]
    pub fn env<I, S>(mut self, env: impl Into<String>, appids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let i = self.entries;
        self.entries += 1;
        let env = checked_id::<types::EnvId>(env.into(), || format!("data[{i}].env"));
        let env = self.keep(env);
        let appids = appids.into_iter();
        let mut ids = Vec::with_capacity(appids.size_hint().0);
        for (j, appid) in appids.enumerate() {
            let appid = checked_id::<types::Appid>(appid.into(), || format!("data[{i}].appids[{j}]"));
            ids.push(self.keep(appid));
        }
        if ids.is_empty() {
            self.keep::<()>(Err(ValidationError::new(
                format!("data[{i}].appids"),
                "must list at least one appid",
            )));
        }
        let ids: Vec<_> = ids.into_iter().flatten().collect();
        if let (Some(env), false) = (env, ids.is_empty()) {
            let data = &mut self.wire.data;
            let entry = *self.envs.entry(env.as_str().to_owned()).or_insert_with(|| {
                data.push(types::EnvAppids { env, appids: Vec::new() });
                data.len() - 1
            });
            for appid in ids {
                if self.pairs.insert((entry, appid.as_str().to_owned())) {
                    data[entry].appids.push(appid);
                } else {
                    self.duplicates.push(EnvAppid::new(data[entry].env.as_str(), appid.as_str()));
                }
            }
        }
        self
    }

    /// A request of `env` with `appids`, already checked and distinct (a bulk run's batch): built
    /// without the bookkeeping [`BatchRequest::env`] needs to find bad ids and repeats.
    pub(crate) fn distinct(
        env: &str,
        appids: &[&str],
        source_type: SourceType,
    ) -> Result<Self, ValidationError> {
        // Checked by the caller: only the conversion into the generated types is left.
        let wire = |field: &str| ValidationError::new(field, "is not valid for the spec");
        let env = types::EnvId::try_from(env).map_err(|_| wire("env"))?;
        let appids = appids
            .iter()
            .map(|a| types::Appid::try_from(*a).map_err(|_| wire("appid")))
            .collect::<Result<_, _>>()?;
        let mut request = Self::new().source_type(source_type);
        request.wire.data.push(types::EnvAppids { env, appids });
        request.entries = 1;
        Ok(request)
    }

    /// The pairs given more than once, each listed once per repeat, in the order given. Each
    /// pair is sent once.
    pub fn duplicates(&self) -> &[EnvAppid] {
        &self.duplicates
    }

    /// The value, or `None` after remembering the error if it is the first.
    fn keep<T>(&mut self, checked: Result<T, ValidationError>) -> Option<T> {
        match checked {
            Ok(value) => Some(value),
            Err(error) => {
                self.first_error.get_or_insert(error);
                None
            }
        }
    }

    /// Sets `source_type`.
    #[must_use]
    pub fn source_type(mut self, source_type: SourceType) -> Self {
        self.source_type = source_type;
        self.wire.source_type = source_type_wire(source_type);
        self
    }

    /// The `source_type`.
    pub fn kind(&self) -> SourceType {
        self.source_type
    }

    /// How many valid, distinct (env, appid) pairs the request holds.
    pub fn len(&self) -> usize {
        self.wire.data.iter().map(|entry| entry.appids.len()).sum()
    }

    /// Whether the request holds no valid pair.
    pub fn is_empty(&self) -> bool {
        self.wire.data.is_empty()
    }

    /// Every valid (env, appid) pair of the request, in order.
    pub fn pairs(&self) -> Vec<EnvAppid> {
        self.pair_refs().map(|(env, appid)| EnvAppid::new(env, appid)).collect()
    }

    /// The valid pairs, borrowed.
    pub(crate) fn pair_refs(&self) -> impl Iterator<Item = (&str, &str)> + Clone {
        wire_pairs(&self.wire)
    }

    /// Checks the request the way the API would, without sending it.
    ///
    /// # Errors
    /// A [`ValidationError`] naming the first offending field: `data` when no environment was
    /// added, `data[i].env` when an env id is empty or holds whitespace or control characters,
    /// `data[i].appids` when an appid list is empty, `data[i].appids[j]` for a bad appid.
    pub fn validate(&self) -> Result<(), ValidationError> {
        if let Some(error) = &self.first_error {
            return Err(error.clone());
        }
        if self.wire.data.is_empty() {
            return Err(ValidationError::new("data", "must list at least one environment"));
        }
        Ok(())
    }

    /// Validates, and lends the generated wire type to send.
    pub(crate) fn to_wire(&self) -> Result<&types::BatchEnvRequest, ValidationError> {
        self.validate().map(|()| &self.wire)
    }
}

impl EnvAppid {
    /// Checks the pair as [`BatchRequest::env`] checks its ids.
    ///
    /// # Errors
    /// A [`ValidationError`] naming `env` or `appid` when it is empty or holds whitespace or
    /// control characters.
    pub fn validate(&self) -> Result<(), ValidationError> {
        check_id(&self.env, || "env".to_owned())?;
        check_id(&self.appid, || "appid".to_owned())
    }
}

impl BatchRequest {
    /// The outcome of `answer`, an answer with `errcode` 0 to this request sent as `operation`.
    pub(crate) fn judge(&self, operation: BatchOperation, answered: Answered<BatchAnswer>) -> BatchOutcome {
        BatchOutcome::judge(
            answered.answer,
            BatchCall {
                operation,
                source_type: self.source_type,
                pairs: self.pair_refs(),
                duplicates: &self.duplicates,
                attempts: answered.attempts,
                after_uncertain_attempt: answered.after_uncertain_attempt,
                token: answered.token.as_ref(),
            },
        )
    }
}

pub(crate) fn wire_pairs(wire: &types::BatchEnvRequest) -> impl Iterator<Item = (&str, &str)> + Clone {
    wire.data.iter().flat_map(|e| e.appids.iter().map(move |a| (e.env.as_str(), a.as_str())))
}

/// Checks one id (env or appid) and moves it into its generated newtype.
pub(crate) fn checked_id<T>(value: String, field: impl Fn() -> String) -> Result<T, ValidationError>
where
    T: TryFrom<String>,
{
    check_id(&value, &field)?;
    T::try_from(value).map_err(|_| ValidationError::new(field(), "is not valid for the spec"))
}

/// Checks one id (env or appid): not empty, no whitespace or control characters (the spec's
/// `minLength: 1`, which the generated types also check, is the first).
fn check_id(value: &str, field: impl Fn() -> String) -> Result<(), ValidationError> {
    if value.is_empty() {
        return Err(ValidationError::new(field(), "must not be empty"));
    }
    if has_space_or_control(value) {
        return Err(ValidationError::new(field(), "must not contain whitespace or control characters"));
    }
    Ok(())
}

/// Whether an id holds whitespace or control characters. Ids are ASCII in practice, and for
/// ASCII every whitespace character but the space is a control character, so the bytes are
/// checked without decoding characters.
fn has_space_or_control(id: &str) -> bool {
    if id.is_ascii() {
        id.bytes().any(|b| b == b' ' || b.is_ascii_control())
    } else {
        id.chars().any(|c| c.is_whitespace() || c.is_control())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_byte_check_of_ascii_ids_agrees_with_the_character_check() {
        for c in (0u32..0x3000).filter_map(char::from_u32) {
            let id = format!("wx{c}1");
            assert_eq!(has_space_or_control(&id), c.is_whitespace() || c.is_control(), "{c:?}");
        }
    }

    fn field_of(request: BatchRequest) -> String {
        request.validate().unwrap_err().field
    }

    #[test]
    fn empty_data_is_refused() {
        assert_eq!(field_of(BatchRequest::new()), "data");
    }

    #[test]
    fn the_offending_field_path_is_named() {
        let ok = ["wx5fe6bb43205e9e07"];
        assert_eq!(field_of(BatchRequest::new().env("", ok)), "data[0].env");
        assert_eq!(
            field_of(BatchRequest::new().env("e", ok).env("e2", Vec::<String>::new())),
            "data[1].appids"
        );
        assert_eq!(field_of(BatchRequest::new().env("e", ok).env("e2", ["wx1", ""])), "data[1].appids[1]");
        assert_eq!(field_of(BatchRequest::new().env("e", [" wx1"])), "data[0].appids[0]");
        assert_eq!(field_of(BatchRequest::new().env("e\n", ok)), "data[0].env");
    }

    #[test]
    fn cloudbase_environments_can_be_addressed_with_source_type_0() {
        let request = BatchRequest::new().env("e", ["wx1"]).source_type(SourceType::CloudBase);
        let wire = serde_json::to_value(request.to_wire().unwrap()).unwrap();
        assert_eq!(wire["source_type"], 0);
        assert_eq!(SourceType::default().code(), 1);
        assert_eq!(SourceType::Other(7).code(), 7);
    }

    #[test]
    fn the_documented_request_is_valid_and_encodes_as_on_the_page() {
        let request = BatchRequest::new()
            .env("test-env-6gni9ity244a6ea3", ["wx5fe6bb43205e9e07", "wx075cf85bf347b6df"]);
        let wire = serde_json::to_value(request.to_wire().unwrap()).unwrap();
        assert_eq!(
            wire,
            serde_json::json!({"data":[{"env":"test-env-6gni9ity244a6ea3","appids":["wx5fe6bb43205e9e07","wx075cf85bf347b6df"]}],"source_type":1})
        );
    }
}
