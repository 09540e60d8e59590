//! The JSON shapes of `/healthz` and `/readyz`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HealthDto {
    pub status: String,
}
