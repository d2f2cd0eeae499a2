//! The state file: the shared (env, appid) pairs as JSON, written atomically.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// One shared pair, as stored.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct StoredPair {
    env: String,
    appid: String,
}

/// The file's shape: `{"shared": [{"env": "...", "appid": "..."}]}`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile {
    shared: Vec<StoredPair>,
}

/// Reads the pairs from `path`; a missing file is an empty state.
///
/// # Errors
/// An I/O error when the file cannot be read, or `InvalidData` when it is not a state file.
pub(crate) fn load(path: &Path) -> std::io::Result<BTreeSet<(String, String)>> {
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
    Ok(file.shared.into_iter().map(|p| (p.env, p.appid)).collect())
}

/// Writes the pairs to `path` atomically: to a temporary file beside it, synced, then renamed
/// over it, so a crash leaves either the old state or the new one.
///
/// # Errors
/// The I/O error of any step.
pub(crate) fn save(path: &Path, shared: &BTreeSet<(String, String)>) -> std::io::Result<()> {
    let file = StateFile {
        shared: shared
            .iter()
            .map(|(env, appid)| StoredPair { env: env.clone(), appid: appid.clone() })
            .collect(),
    };
    let mut text = serde_json::to_vec_pretty(&file).map_err(std::io::Error::other)?;
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
        let pairs: BTreeSet<_> = [("e".to_owned(), "wx1".to_owned()), ("e".into(), "wx2".into())].into();
        save(&path, &pairs).unwrap();
        assert_eq!(load(&path).unwrap(), pairs);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file is left behind");
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
