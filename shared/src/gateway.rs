//! Temporary stub of the gateway (being written).
use crate::{GatewayRequest, GatewayResponse};

#[derive(Debug)]
pub struct ConfigError(pub String);
impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for ConfigError {}

pub struct Gateway;
impl Gateway {
    pub fn from_json(_text: &str) -> Result<Gateway, ConfigError> {
        Ok(Gateway)
    }
    pub async fn handle(&self, _req: GatewayRequest) -> GatewayResponse {
        GatewayResponse::new(http::StatusCode::NOT_FOUND)
    }
}
