//! The scenario format: TOML text in, a validated [`crate::model::Model`] out, or every
//! problem at once with file, line and column. `format` holds the serde structs (and so
//! the JSON Schema), `validate` the checks, `diag` the diagnostics.

pub mod diag;
pub mod format;
pub mod validate;

pub use diag::ScenarioError;
pub use validate::load_str;
