//! Account settings: ListAccountSettings, PutAccountSetting, PutAccountSettingDefault,
//! DeleteAccountSetting.

use std::collections::BTreeMap;

use wharf_sdk_tests::aws_sdk_ecs::types::{Setting, SettingName};
use wharf_sdk_tests::aws_sdk_ecs::Client;
use wharf_sdk_tests::{ok, service_error, Server, ACCOUNT_ID};

fn root() -> String {
    format!("arn:aws:iam::{ACCOUNT_ID}:root")
}

async fn list_all(
    ecs: &Client,
    name: Option<SettingName>,
    effective: bool,
    principal: Option<&str>,
    page_size: Option<i32>,
) -> Vec<Setting> {
    let mut settings = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..100 {
        let page = ok(ecs
            .list_account_settings()
            .set_name(name.clone())
            .effective_settings(effective)
            .set_principal_arn(principal.map(str::to_owned))
            .set_max_results(page_size)
            .set_next_token(token.clone())
            .send()
            .await);
        if let Some(size) = page_size {
            assert!(page.settings().len() <= size as usize, "page over {size}: {page:?}");
        }
        settings.extend(page.settings().iter().cloned());
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            return settings;
        }
    }
    panic!("ListAccountSettings pagination does not end");
}

fn by_name(settings: &[Setting]) -> BTreeMap<String, String> {
    settings
        .iter()
        .map(|s| {
            (
                s.name().map(|n| n.as_str().to_owned()).unwrap_or_default(),
                s.value().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn put_list_delete_account_setting() {
    let server = Server::start();
    let ecs = server.client().await;

    let put = ok(ecs
        .put_account_setting()
        .name(SettingName::ContainerInsights)
        .value("enabled")
        .send()
        .await);
    let setting = put.setting().expect("setting");
    assert_eq!(setting.name(), Some(&SettingName::ContainerInsights));
    assert_eq!(setting.value(), Some("enabled"));
    let principal = setting.principal_arn().expect("principalArn").to_owned();
    assert!(
        principal.starts_with(&format!("arn:aws:iam::{ACCOUNT_ID}:")),
        "principalArn {principal:?} is not in the account"
    );

    // Listed for the caller, filtered by name.
    let listed = list_all(&ecs, Some(SettingName::ContainerInsights), false, None, None).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].value(), Some("enabled"));
    assert_eq!(listed[0].principal_arn(), Some(principal.as_str()));

    // Filtered by value as well.
    let page = ok(ecs
        .list_account_settings()
        .name(SettingName::ContainerInsights)
        .value("disabled")
        .send()
        .await);
    assert!(page.settings().is_empty(), "{page:?}");

    // Changed.
    ok(ecs
        .put_account_setting()
        .name(SettingName::ContainerInsights)
        .value("enhanced")
        .send()
        .await);
    let listed = list_all(&ecs, Some(SettingName::ContainerInsights), false, None, None).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].value(), Some("enhanced"));

    // Deleted: the answer is the setting that was removed.
    let deleted =
        ok(ecs.delete_account_setting().name(SettingName::ContainerInsights).send().await);
    let setting = deleted.setting().expect("setting");
    assert_eq!(setting.name(), Some(&SettingName::ContainerInsights));
    assert_eq!(setting.value(), Some("enhanced"));
    let listed = list_all(&ecs, Some(SettingName::ContainerInsights), false, None, None).await;
    assert!(listed.is_empty(), "still listed after DeleteAccountSetting: {listed:?}");
}

#[tokio::test]
async fn setting_for_an_explicit_principal() {
    let server = Server::start();
    let ecs = server.client().await;
    let user = format!("arn:aws:iam::{ACCOUNT_ID}:user/alice");
    let put = ok(ecs
        .put_account_setting()
        .name(SettingName::AwsvpcTrunking)
        .value("enabled")
        .principal_arn(&user)
        .send()
        .await);
    assert_eq!(put.setting().and_then(|s| s.principal_arn()), Some(user.as_str()));
    let listed = list_all(&ecs, Some(SettingName::AwsvpcTrunking), false, Some(&user), None).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].value(), Some("enabled"));
    assert_eq!(listed[0].principal_arn(), Some(user.as_str()));
    let deleted = ok(ecs
        .delete_account_setting()
        .name(SettingName::AwsvpcTrunking)
        .principal_arn(&user)
        .send()
        .await);
    assert_eq!(deleted.setting().and_then(|s| s.principal_arn()), Some(user.as_str()));
    assert!(list_all(&ecs, Some(SettingName::AwsvpcTrunking), false, Some(&user), None)
        .await
        .is_empty());
}

#[tokio::test]
async fn account_default_and_effective_settings() {
    let server = Server::start();
    let ecs = server.client().await;

    // Effective settings list every setting, defaults included, whether or not set.
    let effective = list_all(&ecs, None, true, None, None).await;
    let names = by_name(&effective);
    for expected in ["serviceLongArnFormat", "taskLongArnFormat", "containerInstanceLongArnFormat"]
    {
        assert!(names.contains_key(expected), "{expected} missing from {names:?}");
    }
    // ECS gives at most 10 per page (the default page size) and paginates the rest.
    let first = ok(ecs.list_account_settings().effective_settings(true).send().await);
    assert!(first.settings().len() <= 10, "{first:?}");
    let paged = list_all(&ecs, None, true, None, Some(2)).await;
    assert_eq!(by_name(&paged), names, "paging changes the effective settings");
    assert_eq!(paged.len(), effective.len());

    // The account default applies to everyone without a setting of their own.
    let put = ok(ecs
        .put_account_setting_default()
        .name(SettingName::ContainerInsights)
        .value("enabled")
        .send()
        .await);
    let setting = put.setting().expect("setting");
    assert_eq!(setting.name(), Some(&SettingName::ContainerInsights));
    assert_eq!(setting.value(), Some("enabled"));
    assert_eq!(setting.principal_arn(), Some(root().as_str()));

    let effective = list_all(&ecs, Some(SettingName::ContainerInsights), true, None, None).await;
    assert_eq!(effective.len(), 1, "{effective:?}");
    assert_eq!(effective[0].value(), Some("enabled"));

    // A principal's own setting wins over the default.
    let user = format!("arn:aws:iam::{ACCOUNT_ID}:user/bob");
    ok(ecs
        .put_account_setting()
        .name(SettingName::ContainerInsights)
        .value("disabled")
        .principal_arn(&user)
        .send()
        .await);
    let effective =
        list_all(&ecs, Some(SettingName::ContainerInsights), true, Some(&user), None).await;
    assert_eq!(effective.len(), 1, "{effective:?}");
    assert_eq!(effective[0].value(), Some("disabled"));
}

#[tokio::test]
async fn invalid_settings_are_refused() {
    let server = Server::start();
    let ecs = server.client().await;
    // A value that is not one of the setting's values.
    let err = service_error(
        ecs.put_account_setting().name(SettingName::ContainerInsights).value("maybe").send().await,
    );
    assert_eq!((err.code.as_str(), err.status), ("InvalidParameterException", 400), "{err:?}");
    let err = service_error(
        ecs.put_account_setting_default()
            .name(SettingName::AwsvpcTrunking)
            .value("sometimes")
            .send()
            .await,
    );
    assert_eq!((err.code.as_str(), err.status), ("InvalidParameterException", 400), "{err:?}");
    // A name that is not a setting.
    let err = service_error(
        ecs.put_account_setting()
            .name(SettingName::from("noSuchSetting"))
            .value("enabled")
            .send()
            .await,
    );
    assert_eq!(err.status, 400, "{err:?}");
    assert!(err.code == "InvalidParameterException" || err.code == "ClientException", "{err:?}");
    // Nothing was stored.
    let listed = list_all(&ecs, None, false, None, None).await;
    assert!(listed.is_empty(), "{listed:?}");
}
