//! The `validation/cel` namespace as the user wrote it (KrakenD CE's krakend-cel: a list of CEL
//! expressions that must hold for a request or a response), on endpoints and backends.

use serde_json::Value;

/// The names `validation/cel` goes by: the v3 name, then krakend-cel's original namespace.
pub const VALIDATION_CEL_NAMES: &[&str] = &["validation/cel", "github.com/devopsfaith/krakend-cel"];

/// One entry of the list. krakend-cel reads `check_expr` only; `mod_expr` is parsed into its
/// struct but never evaluated by KrakenD CE.
#[derive(Debug, Default, serde::Deserialize)]
pub struct CelCheckConfig {
    #[serde(default)]
    pub check_expr: Option<String>,
    #[serde(default)]
    pub mod_expr: Option<Value>,
    #[serde(default, rename = "@comment")]
    pub comment: Option<Value>,
}
