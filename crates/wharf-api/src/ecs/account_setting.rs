//! Account settings: ListAccountSettings, PutAccountSetting,
//! PutAccountSettingDefault, DeleteAccountSetting.
//!
//! A setting is looked up as ECS does: the principal's own value, else the
//! account default, else AWS's default. Values are kept per region.

use wharf_model::ecs::shapes::{
    DeleteAccountSettingRequest, DeleteAccountSettingResponse, ListAccountSettingsRequest,
    ListAccountSettingsResponse, PutAccountSettingDefaultRequest, PutAccountSettingDefaultResponse,
    PutAccountSettingRequest, PutAccountSettingResponse, Setting, SettingName, SettingType,
};
use wharf_model::EcsError;
use wharf_ops::docs::{self, Change};
use wharf_store::{Kind, Write};

use super::input::required;
use crate::context::Ctx;
use crate::pagination;
use crate::protocol::ApiError;

/// The principal key under which account-wide defaults are kept.
const ACCOUNT_DEFAULT: &str = "*account-default*";

/// Each setting's AWS default and the values it accepts: every name ECS's
/// API reference lists (`dualStackIPv6` is not in the SDK model's enum, but
/// ECS takes it and lists it).
const RULES: &[(&str, &str, &[&str])] = &[
    ("serviceLongArnFormat", "enabled", &["enabled", "disabled"]),
    ("taskLongArnFormat", "enabled", &["enabled", "disabled"]),
    ("containerInstanceLongArnFormat", "enabled", &["enabled", "disabled"]),
    ("awsvpcTrunking", "disabled", &["enabled", "disabled"]),
    ("containerInsights", "disabled", &["enabled", "disabled", "enhanced"]),
    ("dualStackIPv6", "disabled", &["enabled", "disabled"]),
    ("fargateFIPSMode", "disabled", &["enabled", "disabled"]),
    ("tagResourceAuthorization", "on", &["on", "off"]),
    ("fargateTaskRetirementWaitPeriod", "7", &["0", "7", "14"]),
    ("guardDutyActivate", "off", &["on", "off"]),
    ("defaultLogDriverMode", "non-blocking", &["blocking", "non-blocking"]),
    ("fargateEventWindows", "disabled", &["enabled", "disabled"]),
];

fn rule(
    name: &SettingName,
) -> Result<&'static (&'static str, &'static str, &'static [&'static str]), EcsError> {
    RULES.iter().find(|(n, _, _)| *n == name.as_str()).ok_or_else(|| {
        EcsError::invalid_parameter(format!(
            "Invalid setting name '{name}'. Valid values: {}.",
            RULES.iter().map(|(n, _, _)| *n).collect::<Vec<_>>().join(", ")
        ))
    })
}

fn check_value(name: &SettingName, value: &str) -> Result<(), EcsError> {
    let (_, _, allowed) = rule(name)?;
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(EcsError::invalid_parameter(format!(
            "Invalid value '{value}' for setting {name}. Valid values: {}.",
            allowed.join(", ")
        )))
    }
}

fn key(principal: &str, name: &str) -> String {
    format!("{principal}\n{name}")
}

async fn stored(ctx: &Ctx, principal: &str, name: &str) -> Result<Option<Setting>, ApiError> {
    Ok(docs::get(ctx.ops(), Kind::AccountSetting, &key(principal, name)).await?)
}

async fn put(ctx: &Ctx, principal: &str, setting: Setting) -> Result<Setting, ApiError> {
    let name = setting.name.as_ref().map(|n| n.as_str().to_owned()).unwrap_or_default();
    let put = setting.clone();
    docs::update::<Setting, _>(
        ctx.ops(),
        Kind::AccountSetting,
        &key(principal, &name),
        move |_| Ok(Change::Put(put.clone())),
    )
    .await?;
    Ok(setting)
}

/// The setting in force for `principal`: its own, the account's, or AWS's.
async fn effective(
    ctx: &Ctx,
    principal: &str,
    name: &'static str,
    default: &str,
) -> Result<Setting, ApiError> {
    if let Some(s) = stored(ctx, principal, name).await? {
        return Ok(s);
    }
    if let Some(s) = stored(ctx, ACCOUNT_DEFAULT, name).await? {
        return Ok(Setting { principal_arn: Some(principal.to_owned()), ..s });
    }
    Ok(Setting {
        name: Some(SettingName::from(name)),
        value: Some(default.to_owned()),
        principal_arn: Some(principal.to_owned()),
        r#type: Some(SettingType::AwsManaged),
    })
}

/// The value of an account setting in force for the account's root
/// principal (its own, the account default, or AWS's default), for the
/// parts of the control plane that apply one (for example
/// `defaultLogDriverMode` when a task is handed to its agent).
pub(crate) async fn account_value(ctx: &Ctx, name: &'static str) -> Result<String, ApiError> {
    let default = RULES.iter().find(|(n, _, _)| *n == name).map_or("", |(_, d, _)| *d);
    let setting = effective(ctx, &ctx.root_principal(), name, default).await?;
    Ok(setting.value.unwrap_or_else(|| default.to_owned()))
}

/// ListAccountSettings.
pub(crate) async fn list_account_settings(
    ctx: &Ctx,
    req: ListAccountSettingsRequest,
) -> Result<ListAccountSettingsResponse, ApiError> {
    if req.value.is_some() && req.name.is_none() {
        return Err(EcsError::invalid_parameter(
            "The value parameter can only be used together with name.",
        )
        .into());
    }
    if let Some(n) = &req.name {
        rule(n)?;
    }
    let principal = req.principal_arn.unwrap_or_else(|| ctx.root_principal());
    let mut all = Vec::new();
    for (name, default, _) in RULES {
        if req.name.as_ref().is_some_and(|n| n.as_str() != *name) {
            continue;
        }
        let s = if req.effective_settings.unwrap_or(false) {
            Some(effective(ctx, &principal, name, default).await?)
        } else {
            stored(ctx, &principal, name).await?
        };
        all.extend(s.filter(|s| req.value.is_none() || s.value == req.value));
    }
    let limit = match req.max_results {
        None => 10,
        Some(n) if (1..=10).contains(&n) => n as usize,
        Some(_) => {
            return Err(EcsError::invalid_parameter("maxResults must be between 1 and 10.").into())
        }
    };
    let start: usize = match req.next_token.as_deref() {
        Some(t) => pagination::decode(t)?
            .parse()
            .map_err(|_| EcsError::invalid_parameter("Invalid nextToken."))?,
        None => 0,
    };
    let end = (start + limit).min(all.len());
    let next_token = (end < all.len()).then(|| pagination::encode(&end.to_string()));
    let settings = all.get(start..end).map(<[Setting]>::to_vec).unwrap_or_default();
    Ok(ListAccountSettingsResponse { settings: Some(settings), next_token })
}

/// PutAccountSetting: for the caller, or the principal named.
pub(crate) async fn put_account_setting(
    ctx: &Ctx,
    req: PutAccountSettingRequest,
) -> Result<PutAccountSettingResponse, ApiError> {
    let name = required(req.name, "name")?;
    let value = required(req.value, "value")?;
    check_value(&name, &value)?;
    let principal = req.principal_arn.unwrap_or_else(|| ctx.root_principal());
    let setting = Setting {
        name: Some(name),
        value: Some(value),
        principal_arn: Some(principal.clone()),
        r#type: Some(SettingType::User),
    };
    Ok(PutAccountSettingResponse { setting: Some(put(ctx, &principal, setting).await?) })
}

/// PutAccountSettingDefault: the value for every principal that has none.
pub(crate) async fn put_account_setting_default(
    ctx: &Ctx,
    req: PutAccountSettingDefaultRequest,
) -> Result<PutAccountSettingDefaultResponse, ApiError> {
    let name = required(req.name, "name")?;
    let value = required(req.value, "value")?;
    check_value(&name, &value)?;
    let setting = Setting {
        name: Some(name),
        value: Some(value),
        principal_arn: Some(ctx.root_principal()),
        r#type: Some(SettingType::User),
    };
    Ok(PutAccountSettingDefaultResponse {
        setting: Some(put(ctx, ACCOUNT_DEFAULT, setting).await?),
    })
}

/// DeleteAccountSetting: removes the principal's own value.
pub(crate) async fn delete_account_setting(
    ctx: &Ctx,
    req: DeleteAccountSettingRequest,
) -> Result<DeleteAccountSettingResponse, ApiError> {
    let name = required(req.name, "name")?;
    rule(&name)?;
    let principal = req.principal_arn.unwrap_or_else(|| ctx.root_principal());
    let k = key(&principal, name.as_str());
    let Some(setting) = stored(ctx, &principal, name.as_str()).await? else {
        return Err(EcsError::invalid_parameter(format!(
            "The setting {name} is not set for principal {principal}."
        ))
        .into());
    };
    ctx.store()
        .update(Kind::AccountSetting, &ctx.region, &k, Box::new(|_| Ok(Write::Delete)))
        .await?;
    Ok(DeleteAccountSettingResponse { setting: Some(setting) })
}
