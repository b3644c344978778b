//! The installation and the window's settings.

use citrus_types::api::app::{GetSetting, SetSetting};

use super::{call, ApiError};

/// A window setting; None when unset.
pub async fn setting(key: &str) -> Result<Option<String>, ApiError> {
    call(&GetSetting { key: key.into() }).await
}

/// Sets a window setting.
pub async fn set_setting(key: &str, value: &str) -> Result<(), ApiError> {
    call(&SetSetting {
        key: key.into(),
        value: value.into(),
    })
    .await
}
