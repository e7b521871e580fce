//! The scenario format: TOML text in, a validated [`crate::model::Model`] out, or every
//! problem at once with file, line and column. `format` holds the serde structs (and so
//! the JSON Schema), `validate` the checks, `diag` the diagnostics, `overrides` the
//! command line's values (`--set`, `--interval`, `--until`) applied before the checks.

mod attrs;
pub mod diag;
pub mod format;
pub mod overrides;
pub mod validate;

pub use diag::ScenarioError;
pub use overrides::{Overrides, Setting};
pub use validate::{FileReader, load_files, load_str, load_with};
