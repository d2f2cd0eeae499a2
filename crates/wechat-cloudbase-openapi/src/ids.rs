//! The spec's `EnvId` and `Appid` schemas (non-empty strings), as hand-written newtypes that
//! progenitor uses in place of its own (`with_replacement` in `build.rs`).
//!
//! Building one from a `String` checks it without copying it.

use std::borrow::Cow;

/// An id was empty: the spec's `minLength: 1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdError;

impl std::fmt::Display for IdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an id must not be empty")
    }
}

impl std::error::Error for IdError {}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            /// Takes the string as it is (no copy) if it is not empty.
            fn try_from(value: String) -> Result<Self, IdError> {
                if value.is_empty() { Err(IdError) } else { Ok(Self(value)) }
            }
        }

        impl TryFrom<&str> for $name {
            type Error = IdError;
            fn try_from(value: &str) -> Result<Self, IdError> {
                Self::try_from(value.to_owned())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = String::deserialize(deserializer)?;
                Self::try_from(value).map_err(serde::de::Error::custom)
            }
        }

        impl schemars::JsonSchema for $name {
            fn schema_name() -> String {
                stringify!($name).to_owned()
            }

            fn schema_id() -> Cow<'static, str> {
                Cow::Borrowed(concat!("wechat_cloudbase_openapi::", stringify!($name)))
            }

            fn json_schema(generator: &mut schemars::r#gen::SchemaGenerator) -> schemars::schema::Schema {
                let mut schema = <String as schemars::JsonSchema>::json_schema(generator).into_object();
                schema.string().min_length = Some(1);
                schema.into()
            }
        }
    };
}

id_type! {
    /// A CloudBase / CloudRun environment id (the spec's `EnvId`): never empty.
    EnvId
}

id_type! {
    /// A mini program's `appid` (the spec's `Appid`): never empty.
    Appid
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_refuse_empty_strings_and_keep_the_rest_as_they_are() {
        assert_eq!(Appid::try_from(String::new()), Err(IdError));
        assert_eq!(Appid::try_from("wx1").unwrap().as_str(), "wx1");
        assert!(serde_json::from_str::<EnvId>("\"\"").is_err());
        assert_eq!(serde_json::to_string(&EnvId::try_from("e").unwrap()).unwrap(), "\"e\"");
    }
}
