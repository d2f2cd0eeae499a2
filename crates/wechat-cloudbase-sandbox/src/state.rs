//! The shared (env, appid, source_type) pairs, and their plain-text form: the JSON of a seed file
//! (`SandboxConfig::seed_file`) and of an export ([`crate::export_state`]).

use std::collections::BTreeSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The `source_type` of WeChat's pages (CloudRun): what seeds use, and what a pair of a seed file
/// without a `source_type` is read as.
pub(crate) const CLOUDRUN: i32 = 1;

/// One sharing relation: `env` shared with the mini program `appid` under `source_type`. The same
/// shape in memory and in the JSON of pairs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Pair {
    pub(crate) env: String,
    pub(crate) appid: String,
    #[serde(default = "cloudrun")]
    pub(crate) source_type: i32,
}

impl Pair {
    pub(crate) fn new(source_type: i32, env: impl Into<String>, appid: impl Into<String>) -> Self {
        Self { env: env.into(), appid: appid.into(), source_type }
    }
}

fn cloudrun() -> i32 {
    CLOUDRUN
}

/// The JSON of pairs: `{"shared": [{"env": "...", "appid": "...", "source_type": 1}]}`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PairsFile {
    shared: BTreeSet<Pair>,
}

/// Reads the pairs of the seed file at `path`.
///
/// # Errors
/// An I/O error naming `path` when it cannot be read, or `InvalidData` when it is not JSON of
/// pairs.
pub(crate) fn load_seed_file(path: &Path) -> std::io::Result<BTreeSet<Pair>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        std::io::Error::new(e.kind(), format!("cannot read the seed file `{}`: {e}", path.display()))
    })?;
    let file: PairsFile = serde_json::from_str(&text).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "`{}` is not a seed file (`{{\"shared\": [{{\"env\", \"appid\", \"source_type\"}}]}}`): {e}",
                path.display()
            ),
        )
    })?;
    // What the API itself would refuse (40097) is refused here too.
    if let Some(pair) = file.shared.iter().find(|p| {
        p.env.is_empty() || p.appid.is_empty() || !crate::requests::SOURCE_TYPES.contains(&p.source_type)
    }) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "`{}` holds a pair the API would refuse (an empty env or appid, or a source_type \
                 other than 0 or 1): {pair:?}",
                path.display()
            ),
        ));
    }
    Ok(file.shared)
}

/// `shared` as the JSON of pairs, pretty-printed, with a final newline.
pub(crate) fn to_json(shared: &BTreeSet<Pair>) -> String {
    #[derive(Serialize)]
    struct Borrowed<'a> {
        shared: &'a BTreeSet<Pair>,
    }
    let mut text = serde_json::to_string_pretty(&Borrowed { shared }).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_round_trip_through_json_and_a_pair_without_source_type_is_1() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seed.json");
        let pairs: BTreeSet<_> =
            [Pair::new(1, "e", "wx1"), Pair::new(1, "e", "wx2"), Pair::new(0, "e", "wx1")].into();
        std::fs::write(&path, to_json(&pairs)).unwrap();
        assert_eq!(load_seed_file(&path).unwrap(), pairs);
        std::fs::write(&path, r#"{"shared":[{"env":"e","appid":"wx1"}]}"#).unwrap();
        assert_eq!(load_seed_file(&path).unwrap(), [Pair::new(1, "e", "wx1")].into());
    }

    #[test]
    fn a_missing_or_broken_seed_file_is_refused_with_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seed.json");
        let error = load_seed_file(&path).unwrap_err();
        assert!(error.to_string().contains("seed.json"), "{error}");
        std::fs::write(&path, "{not json").unwrap();
        let error = load_seed_file(&path).unwrap_err();
        assert!(error.to_string().contains("seed.json"), "{error}");
    }
}
