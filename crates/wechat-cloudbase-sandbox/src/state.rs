//! The state file: the shared (env, appid, source_type) pairs as JSON, written atomically.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The `source_type` of WeChat's pages (CloudRun): what seeds use, and what a stored pair without
/// a `source_type` (a file written before the sandbox knew of it) is read as.
pub(crate) const CLOUDRUN: i32 = 1;

/// One sharing relation: `env` shared with the mini program `appid` under `source_type`. The same
/// shape in memory and in the state file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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

/// The file's shape: `{"shared": [{"env": "...", "appid": "...", "source_type": 1}]}`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile {
    shared: BTreeSet<Pair>,
}

/// Reads the pairs from `path`; a missing file is an empty state.
///
/// # Errors
/// An I/O error when the file cannot be read, or `InvalidData` when it is not a state file.
pub(crate) fn load(path: &Path) -> std::io::Result<BTreeSet<Pair>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeSet::new()),
        Err(e) => return Err(e),
    };
    let file: StateFile = serde_json::from_str(&text).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{} is not a sandbox state file: {e}", path.display()),
        )
    })?;
    Ok(file.shared)
}

/// Writes the pairs to `path` atomically: to a temporary file beside it, synced, then renamed
/// over it, so a crash leaves either the old state or the new one.
///
/// # Errors
/// The I/O error of any step.
pub(crate) fn save(path: &Path, shared: &BTreeSet<Pair>) -> std::io::Result<()> {
    #[derive(Serialize)]
    struct Borrowed<'a> {
        shared: &'a BTreeSet<Pair>,
    }
    let mut text = serde_json::to_vec_pretty(&Borrowed { shared }).map_err(std::io::Error::other)?;
    text.push(b'\n');
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut temp = tempfile::NamedTempFile::new_in(dir)?;
    temp.write_all(&text)?;
    temp.as_file().sync_all()?;
    temp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_and_a_missing_file_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        assert!(load(&path).unwrap().is_empty());
        let pairs: BTreeSet<_> =
            [Pair::new(1, "e", "wx1"), Pair::new(1, "e", "wx2"), Pair::new(0, "e", "wx1")].into();
        save(&path, &pairs).unwrap();
        assert_eq!(load(&path).unwrap(), pairs);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file is left behind");
    }

    #[test]
    fn a_pair_stored_without_source_type_is_read_as_1() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(&path, r#"{"shared":[{"env":"e","appid":"wx1"}]}"#).unwrap();
        assert_eq!(load(&path).unwrap(), [Pair::new(1, "e", "wx1")].into());
    }

    #[test]
    fn a_broken_file_is_refused_with_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(&path, "{not json").unwrap();
        let error = load(&path).unwrap_err();
        assert!(error.to_string().contains("state.json"), "{error}");
    }
}
