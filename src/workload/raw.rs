//! The scenario file as written: serde's view of the TOML, before validation. Every table is
//! `deny_unknown_fields`, so a misspelt key is an error naming its line.

use serde::{Deserialize, Serialize};

use super::claim::RawClaim;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawScenario {
    pub(super) name: String,
    #[serde(default = "default_seed")]
    pub(super) seed: u64,
    pub(super) runs: Option<i64>,
    pub(super) server: RawServer,
    pub(super) workload: RawWorkload,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) variant: Vec<RawVariant>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) claim: Vec<RawClaim>,
}

pub(super) fn default_seed() -> u64 {
    1
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawServer {
    pub(super) profile: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) allocator: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) maxmemory: Option<toml::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) memory_limit: Option<toml::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) dirty_decay_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) background_thread: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) tcache: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) cluster: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWorkload {
    pub(super) tests: i64,
    #[serde(default = "default_flush")]
    pub(super) flush: String,
    #[serde(default = "default_test_seconds")]
    pub(super) test_seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) parallel: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) commands_per_second: Option<f64>,
    pub(super) keys: Vec<RawKeys>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) scripts: Vec<RawScript>,
}

pub(super) fn default_flush() -> String {
    "none".into()
}
pub(super) fn default_test_seconds() -> f64 {
    2.0
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawKeys {
    pub(super) name: String,
    pub(super) count: i64,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub(super) kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) value_size: Option<toml::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) elements: Option<toml::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) element_size: Option<toml::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) batch: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) pop: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) remove: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) content: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) scores: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) key_size: Option<toml::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) key_pattern: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) first_key: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) key_step: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) field_size: Option<toml::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) fields: Option<toml::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) integers: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) integer_digits: Option<toml::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) encoding: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) fractional_scores: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) score_digits: Option<toml::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) ttl_seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) ttl_share: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) cleanup: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) growth: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawScript {
    pub(super) name: String,
    pub(super) size: toml::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) unique: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawVariant {
    pub(super) name: String,
    #[serde(default)]
    pub(super) set: toml::Table,
}
