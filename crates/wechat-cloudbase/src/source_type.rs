//! `source_type`: the kind of environment a request names.

/// The kind of environment named in a request (`source_type`), an integer on the wire.
///
/// WeChat's pages document only `1`, CloudRun, and say that CloudBase environments use another
/// value without naming it; `0` for CloudBase is what a widely used .NET SDK sends, not WeChat's
/// word (the spec's `SourceType` schema says the same). Any other value can be sent as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum SourceType {
    /// `1`: a CloudRun (云托管) environment, the kind WeChat's pages document.
    #[default]
    CloudRun,
    /// `0`: a CloudBase (云开发) environment, as a widely used .NET SDK sends it; not from
    /// WeChat's pages.
    CloudBase,
    /// Any other raw value, sent as it is.
    Other(i32),
}

impl SourceType {
    /// The raw `source_type` value sent to WeChat.
    pub fn code(self) -> i32 {
        match self {
            SourceType::CloudRun => 1,
            SourceType::CloudBase => 0,
            SourceType::Other(code) => code,
        }
    }
}

impl From<i32> for SourceType {
    /// The named variant for 0 and 1, else [`SourceType::Other`].
    fn from(code: i32) -> Self {
        match code {
            1 => SourceType::CloudRun,
            0 => SourceType::CloudBase,
            other => SourceType::Other(other),
        }
    }
}

/// Written as its raw integer, as on the wire.
impl serde::Serialize for SourceType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i32(self.code())
    }
}
