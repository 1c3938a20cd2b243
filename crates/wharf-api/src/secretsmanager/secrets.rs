//! Secrets: CreateSecret, GetSecretValue, PutSecretValue, UpdateSecret,
//! DescribeSecret, ListSecrets, ListSecretVersionIds, DeleteSecret,
//! RestoreSecret, TagResource, UntagResource.

use wharf_model::secretsmanager::shapes::{
    CreateSecretRequest, CreateSecretResponse, DeleteSecretRequest, DeleteSecretResponse,
    DescribeSecretRequest, DescribeSecretResponse, Filter, FilterNameStringType,
    GetSecretValueRequest, GetSecretValueResponse, ListSecretVersionIdsRequest,
    ListSecretVersionIdsResponse, ListSecretsRequest, ListSecretsResponse, PutSecretValueRequest,
    PutSecretValueResponse, RestoreSecretRequest, RestoreSecretResponse, SecretListEntry,
    SecretVersionsListEntry, SortByType, SortOrderType, Tag, TagResourceRequest,
    UntagResourceRequest, UpdateSecretRequest, UpdateSecretResponse,
};
use wharf_model::secretsmanager::{
    self as rules, has_stage, SecretId, SecretRecord, SecretsManagerError as Error,
    SecretsManagerErrorKind as ErrorKind, AWSCURRENT,
};
use wharf_model::Timestamp;
use wharf_store::{Kind, Store};

use crate::context::Ctx;
use crate::pagination;
use crate::records::{self, Change};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// Finds a secret by name, complete ARN or partial ARN in `region`: its
/// store key and record. Secrets past their deletion date are gone; ones
/// scheduled for deletion are returned (callers decide what that means).
pub(crate) async fn find(
    store: &dyn Store,
    region: &str,
    now: Timestamp,
    secret_id: &str,
) -> Result<Option<(String, SecretRecord)>, Error> {
    let Some(id) = SecretId::parse(secret_id) else { return Ok(None) };
    if let SecretId::Arn { region: r, .. } = id {
        if r != region {
            return Ok(None);
        }
    }
    for name in id.candidate_names() {
        let found: Option<SecretRecord> = records::get(store, Kind::Secret, region, name).await?;
        if let Some(record) = found {
            let arn = record.secret.arn.as_deref().unwrap_or("");
            if !record.is_expired(now) && id.matches(name, arn) {
                return Ok(Some((name.to_owned(), record)));
            }
        }
    }
    Ok(None)
}

fn secret_id(value: Option<String>) -> Result<String, Error> {
    let id = value.ok_or_else(|| Error::missing("secretId"))?;
    if id.is_empty() || id.len() > 2048 {
        return Err(Error::validation(
            "1 validation error detected: Value at 'secretId' failed to satisfy constraint: \
             Member must have length between 1 and 2048",
        ));
    }
    Ok(id)
}

async fn require(ctx: &Ctx, id: &str) -> Result<(String, SecretRecord), Error> {
    find(ctx.store(), &ctx.region, ctx.state.ops.clock.now(), id)
        .await?
        .ok_or_else(Error::not_found)
}

/// What a change to an existing secret does to its document.
enum Outcome {
    Save,
    Remove,
    Leave,
}

/// Applies a change to an existing secret in one transaction; the secret
/// must still be the one `id` named when the change runs.
async fn modify<R, F>(ctx: &Ctx, id: &str, change: F) -> Result<R, Error>
where
    R: Send + 'static,
    F: Fn(&mut SecretRecord) -> Result<(Outcome, R), Error> + Send + 'static,
{
    let now = ctx.state.ops.clock.now();
    let (key, found) = require(ctx, id).await?;
    let arn = found.secret.arn;
    records::update(
        ctx.store(),
        Kind::Secret,
        &ctx.region,
        &key,
        move |cur: Option<SecretRecord>| {
            let mut record = match cur {
                Some(r) if r.secret.arn == arn && !r.is_expired(now) => r,
                _ => return Err(Error::not_found()),
            };
            let (outcome, answer) = change(&mut record)?;
            let change = match outcome {
                Outcome::Save => Change::Put(record),
                Outcome::Remove => Change::Delete,
                Outcome::Leave => Change::Keep,
            };
            Ok((change, answer))
        },
    )
    .await
}

/// A new version id: a UUID, as Secrets Manager makes them.
fn new_token() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The six random characters Secrets Manager appends to a secret's ARN.
fn arn_suffix() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let bytes = uuid::Uuid::new_v4().into_bytes();
    bytes[..6].iter().map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()])).collect()
}

/// A secret value: (`SecretString`, `SecretBinary`), exactly one present.
type Value = (Option<String>, Option<String>);

/// A secret value from a request: exactly one of string and binary, within
/// the size limits; `None` when neither is given.
fn value(string: Option<String>, binary: Option<String>) -> Result<Option<Value>, Error> {
    let check = |member: &str, len: usize| {
        if len == 0 || len > rules::MAX_VALUE_LEN {
            return Err(Error::validation(format!(
                "1 validation error detected: Value at '{member}' failed to satisfy constraint: \
                 Member must have length between 1 and {}",
                rules::MAX_VALUE_LEN
            )));
        }
        Ok(())
    };
    match (string, binary) {
        (Some(_), Some(_)) => Err(Error::invalid_parameter(
            "You can't specify both a binary secret value and a string secret value in the same \
             secret.",
        )),
        (Some(s), None) => {
            check("secretString", s.len())?;
            Ok(Some((Some(s), None)))
        }
        (None, Some(b)) => {
            check("secretBinary", b.len())?;
            Ok(Some((None, Some(b))))
        }
        (None, None) => Ok(None),
    }
}

fn token(given: Option<String>) -> Result<String, Error> {
    match given {
        Some(t) => {
            rules::validate_token(&t)?;
            Ok(t)
        }
        None => Ok(new_token()),
    }
}

fn check_description(d: Option<&String>) -> Result<(), Error> {
    if d.is_some_and(|d| d.chars().count() > 2048) {
        return Err(Error::validation(
            "1 validation error detected: Value at 'description' failed to satisfy constraint: \
             Member must have length less than or equal to 2048",
        ));
    }
    Ok(())
}

fn check_tags(tags: &[Tag]) -> Result<(), Error> {
    if tags.len() > rules::MAX_TAGS {
        return Err(Error::validation(format!(
            "Number of tags exceeds the limit of {} tags.",
            rules::MAX_TAGS
        )));
    }
    for t in tags {
        let key = t.key.as_deref().unwrap_or("");
        if key.is_empty() || key.chars().count() > 128 {
            return Err(Error::validation(
                "1 validation error detected: Value at 'tags.member.key' failed to satisfy \
                 constraint: Member must have length between 1 and 128",
            ));
        }
        if key.to_ascii_lowercase().starts_with("aws:") {
            return Err(Error::invalid_parameter(
                "Invalid tag key. The tag key can't start with the reserved prefix aws:.",
            ));
        }
        if t.value.as_deref().unwrap_or("").chars().count() > 256 {
            return Err(Error::validation(
                "1 validation error detected: Value at 'tags.member.value' failed to satisfy \
                 constraint: Member must have length less than or equal to 256",
            ));
        }
    }
    Ok(())
}

/// Adds a version for `token` carrying `stages`, or, when a version with that
/// id exists already, accepts the request only if it carries the same value
/// (a retry) and changes nothing. Returns the version's id and labels, and
/// whether anything changed.
fn put_version(
    record: &mut SecretRecord,
    token: String,
    (string, binary): Value,
    stages: Vec<String>,
    now: Timestamp,
) -> Result<(bool, Vec<String>), Error> {
    if let Some(v) = record.version_by_id(&token) {
        if v.secret_string == string && v.secret_binary == binary {
            return Ok((false, v.version_stages.clone().unwrap_or_default()));
        }
        return Err(Error::new(
            ErrorKind::ResourceExistsException,
            "You can't modify an existing version, you can only create a new version.",
        ));
    }
    let version = GetSecretValueResponse {
        version_id: Some(token),
        secret_string: string,
        secret_binary: binary,
        created_date: Some(now),
        ..Default::default()
    };
    record.add_version(version, stages.clone());
    record.secret.last_changed_date = Some(now);
    Ok((true, stages))
}

/// CreateSecret: a new secret, with a first version labelled `AWSCURRENT`
/// when a value is given. A retry with the same `ClientRequestToken` and
/// value answers as the first call did.
pub(crate) async fn create_secret(
    ctx: &Ctx,
    req: CreateSecretRequest,
) -> Result<CreateSecretResponse, Error> {
    let name = req.name.ok_or_else(|| Error::missing("name"))?;
    rules::validate_name(&name)?;
    let value = value(req.secret_string, req.secret_binary)?;
    check_description(req.description.as_ref())?;
    let tags = req.tags.unwrap_or_default();
    check_tags(&tags)?;
    let token = token(req.client_request_token)?;
    let now = ctx.state.ops.clock.now();
    let arn = rules::secret_arn(&ctx.region, &ctx.state.ops.account_id, &name, &arn_suffix());
    let (description, kms_key_id) = (req.description, req.kms_key_id);
    let key = name.clone();
    records::update(ctx.store(), Kind::Secret, &ctx.region, &key, move |cur| {
        let arn = arn.clone();
        let description = description.clone();
        let kms_key_id = kms_key_id.clone();
        let name = name.clone();
        let tags = tags.clone();
        let token = token.clone();
        let value = value.clone();
        let cur: Option<SecretRecord> = cur;
        if let Some(existing) = cur.filter(|r| !r.is_expired(now)) {
            if existing.is_scheduled_for_deletion() {
                return Err(Error::invalid_request(
                    "You can't create this secret because a secret with this name is already \
                     scheduled for deletion.",
                ));
            }
            let retried = value.as_ref().is_some_and(|(s, b)| {
                existing
                    .version_by_id(&token)
                    .is_some_and(|v| &v.secret_string == s && &v.secret_binary == b)
            });
            if retried {
                let answer = CreateSecretResponse {
                    arn: existing.secret.arn.clone(),
                    name: existing.secret.name.clone(),
                    version_id: Some(token),
                    replication_status: Some(vec![]),
                };
                return Ok((Change::Keep, answer));
            }
            return Err(Error::new(
                ErrorKind::ResourceExistsException,
                format!("The operation failed because the secret {name} already exists."),
            ));
        }
        let mut record = SecretRecord {
            secret: DescribeSecretResponse {
                arn: Some(arn.clone()),
                name: Some(name.clone()),
                description,
                kms_key_id,
                last_changed_date: Some(now),
                created_date: Some(now),
                tags: (!tags.is_empty()).then_some(tags),
                ..Default::default()
            },
            versions: vec![],
        };
        let version_id = match value {
            Some(v) => {
                put_version(&mut record, token.clone(), v, vec![AWSCURRENT.to_owned()], now)?;
                Some(token)
            }
            None => None,
        };
        let answer = CreateSecretResponse {
            arn: Some(arn),
            name: Some(name),
            version_id,
            replication_status: Some(vec![]),
        };
        Ok((Change::Put(record), answer))
    })
    .await
}

fn stage_not_found(stage: &str) -> Error {
    Error::new(
        ErrorKind::ResourceNotFoundException,
        format!("Secrets Manager can't find the specified secret value for staging label: {stage}"),
    )
}

/// The version a GetSecretValue-style request selects: by id, by staging
/// label, or `AWSCURRENT`.
pub(crate) fn select_version<'a>(
    record: &'a SecretRecord,
    version_id: Option<&str>,
    version_stage: Option<&str>,
) -> Result<&'a GetSecretValueResponse, Error> {
    match (version_id, version_stage) {
        (Some(id), stage) => {
            let v = record.version_by_id(id).ok_or_else(|| {
                Error::new(
                    ErrorKind::ResourceNotFoundException,
                    format!(
                        "Secrets Manager can't find the specified secret value for VersionId: {id}"
                    ),
                )
            })?;
            match stage {
                Some(s) if !has_stage(v, s) => Err(stage_not_found(s)),
                _ => Ok(v),
            }
        }
        (None, Some(stage)) => record.version_by_stage(stage).ok_or_else(|| stage_not_found(stage)),
        (None, None) => {
            record.version_by_stage(AWSCURRENT).ok_or_else(|| stage_not_found(AWSCURRENT))
        }
    }
}

/// GetSecretValue.
pub(crate) async fn get_secret_value(
    ctx: &Ctx,
    req: GetSecretValueRequest,
) -> Result<GetSecretValueResponse, Error> {
    let id = secret_id(req.secret_id)?;
    let (_, record) = require(ctx, &id).await?;
    if record.is_scheduled_for_deletion() {
        return Err(Error::marked_for_deletion());
    }
    let v = select_version(&record, req.version_id.as_deref(), req.version_stage.as_deref())?;
    Ok(GetSecretValueResponse {
        arn: record.secret.arn.clone(),
        name: record.secret.name.clone(),
        ..v.clone()
    })
}

/// PutSecretValue: a new version, labelled `AWSCURRENT` unless
/// `VersionStages` says otherwise; the version that loses `AWSCURRENT`
/// becomes `AWSPREVIOUS`.
pub(crate) async fn put_secret_value(
    ctx: &Ctx,
    req: PutSecretValueRequest,
) -> Result<PutSecretValueResponse, Error> {
    let id = secret_id(req.secret_id)?;
    let value = value(req.secret_string, req.secret_binary)?.ok_or_else(|| {
        Error::invalid_request("You must provide either SecretString or SecretBinary.")
    })?;
    let token = token(req.client_request_token)?;
    let stages = req.version_stages.unwrap_or_else(|| vec![AWSCURRENT.to_owned()]);
    if stages.len() > 20 || stages.iter().any(|s| s.is_empty() || s.len() > 256) {
        return Err(Error::validation(
            "1 validation error detected: Value at 'versionStages' failed to satisfy \
             constraint: Member must have length between 1 and 20, each of 1 to 256 characters",
        ));
    }
    let now = ctx.state.ops.clock.now();
    modify(ctx, &id, move |record| {
        let stages = stages.clone();
        let token = token.clone();
        let value = value.clone();
        if record.is_scheduled_for_deletion() {
            return Err(Error::marked_for_deletion());
        }
        let version_id = token.clone();
        let (changed, stages) = put_version(record, token, value, stages, now)?;
        let answer = PutSecretValueResponse {
            arn: record.secret.arn.clone(),
            name: record.secret.name.clone(),
            version_id: Some(version_id),
            version_stages: Some(stages),
        };
        Ok((if changed { Outcome::Save } else { Outcome::Leave }, answer))
    })
    .await
}

/// UpdateSecret: description and KMS key, and a new `AWSCURRENT` version
/// when a value is given.
pub(crate) async fn update_secret(
    ctx: &Ctx,
    req: UpdateSecretRequest,
) -> Result<UpdateSecretResponse, Error> {
    let id = secret_id(req.secret_id)?;
    let value = value(req.secret_string, req.secret_binary)?;
    check_description(req.description.as_ref())?;
    let token = token(req.client_request_token)?;
    let (description, kms_key_id) = (req.description, req.kms_key_id);
    let now = ctx.state.ops.clock.now();
    modify(ctx, &id, move |record| {
        let description = description.clone();
        let kms_key_id = kms_key_id.clone();
        let token = token.clone();
        let value = value.clone();
        if record.is_scheduled_for_deletion() {
            return Err(Error::marked_for_deletion());
        }
        let mut changed = false;
        if description.is_some() {
            record.secret.description = description;
            changed = true;
        }
        if kms_key_id.is_some() {
            record.secret.kms_key_id = kms_key_id;
            changed = true;
        }
        let version_id = match value {
            Some(v) => {
                let (added, _) =
                    put_version(record, token.clone(), v, vec![AWSCURRENT.to_owned()], now)?;
                changed |= added;
                Some(token)
            }
            None => None,
        };
        if changed {
            record.secret.last_changed_date = Some(now);
        }
        let answer = UpdateSecretResponse {
            arn: record.secret.arn.clone(),
            name: record.secret.name.clone(),
            version_id,
        };
        Ok((if changed { Outcome::Save } else { Outcome::Leave }, answer))
    })
    .await
}

fn describe(record: &SecretRecord) -> DescribeSecretResponse {
    let stages = record.versions_to_stages();
    DescribeSecretResponse {
        version_ids_to_stages: (!stages.is_empty()).then_some(stages),
        rotation_enabled: Some(false),
        ..record.secret.clone()
    }
}

/// DescribeSecret: metadata, tags and version labels, never the value; a
/// secret scheduled for deletion shows its `DeletedDate`.
pub(crate) async fn describe_secret(
    ctx: &Ctx,
    req: DescribeSecretRequest,
) -> Result<DescribeSecretResponse, Error> {
    let id = secret_id(req.secret_id)?;
    let (_, record) = require(ctx, &id).await?;
    Ok(describe(&record))
}

/// A checked ListSecrets filter.
struct ListFilter {
    key: FilterNameStringType,
    values: Vec<String>,
}

impl ListFilter {
    fn matches(&self, s: &DescribeSecretResponse) -> bool {
        let tags = s.tags.as_deref().unwrap_or_default();
        self.values.iter().any(|raw| {
            let (negate, v) = match raw.strip_prefix('!') {
                Some(rest) => (true, rest),
                None => (false, raw.as_str()),
            };
            let pre = |field: Option<&str>| field.is_some_and(|f| f.starts_with(v));
            let hit = match &self.key {
                FilterNameStringType::Name => pre(s.name.as_deref()),
                FilterNameStringType::Description => pre(s.description.as_deref()),
                FilterNameStringType::TagKey => tags.iter().any(|t| pre(t.key.as_deref())),
                FilterNameStringType::TagValue => tags.iter().any(|t| pre(t.value.as_deref())),
                FilterNameStringType::PrimaryRegion | FilterNameStringType::OwningService => false,
                _ => {
                    let lower = v.to_lowercase();
                    let ipre =
                        |f: Option<&str>| f.is_some_and(|f| f.to_lowercase().starts_with(&lower));
                    ipre(s.name.as_deref())
                        || ipre(s.description.as_deref())
                        || tags.iter().any(|t| ipre(t.key.as_deref()) || ipre(t.value.as_deref()))
                }
            };
            hit != negate
        })
    }
}

fn check_list_filters(filters: Vec<Filter>) -> Result<Vec<ListFilter>, Error> {
    if filters.len() > 10 {
        return Err(Error::validation(
            "1 validation error detected: Value at 'filters' failed to satisfy constraint: \
             Member must have length less than or equal to 10",
        ));
    }
    filters
        .into_iter()
        .map(|f| {
            let key = f.key.ok_or_else(|| Error::missing("filters.member.key"))?;
            if !key.is_known() {
                return Err(Error::validation(format!(
                    "1 validation error detected: Value '{key}' at 'filters.member.key' failed \
                     to satisfy constraint: Member must satisfy enum value set: [{}]",
                    FilterNameStringType::VALUES.join(", ")
                )));
            }
            let values = f.values.unwrap_or_default();
            if values.is_empty() || values.len() > 10 {
                return Err(Error::invalid_parameter(format!(
                    "Invalid filter values for key {key}: give 1 to 10 values."
                )));
            }
            Ok(ListFilter { key, values })
        })
        .collect()
}

/// ListSecrets: every live secret of the region (and, with
/// `IncludePlannedDeletion`, those scheduled for deletion), filtered by
/// prefix, sorted by name unless `SortBy` says otherwise, paginated.
pub(crate) async fn list_secrets(
    ctx: &Ctx,
    req: ListSecretsRequest,
) -> Result<ListSecretsResponse, Error> {
    let limit = match req.max_results {
        None => 100,
        Some(n) if (1..=100).contains(&n) => n as usize,
        Some(_) => {
            return Err(Error::validation(
                "1 validation error detected: Value at 'maxResults' failed to satisfy \
                 constraint: Member must have value between 1 and 100",
            ))
        }
    };
    let filters = check_list_filters(req.filters.unwrap_or_default())?;
    let include_deleted = req.include_planned_deletion.unwrap_or(false);
    let bad_token =
        || Error::new(ErrorKind::InvalidNextTokenException, "The NextToken value isn't valid.");
    let start: usize = match req.next_token.as_deref() {
        Some(t) => pagination::decode(t).ok().and_then(|s| s.parse().ok()).ok_or_else(bad_token)?,
        None => 0,
    };
    let now = ctx.state.ops.clock.now();
    let mut all: Vec<DescribeSecretResponse> = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page: Vec<(String, SecretRecord)> =
            records::list(ctx.store(), Kind::Secret, &ctx.region, after.as_deref(), 100).await?;
        let full = page.len() == 100;
        for (key, record) in page {
            after = Some(key);
            if record.is_expired(now) || (record.is_scheduled_for_deletion() && !include_deleted) {
                continue;
            }
            let d = describe(&record);
            if filters.iter().all(|f| f.matches(&d)) {
                all.push(d);
            }
        }
        if !full {
            break;
        }
    }
    let millis = |t: Option<Timestamp>| t.map_or(0, Timestamp::as_millis);
    match req.sort_by {
        Some(SortByType::CreatedDate) => all.sort_by_key(|d| millis(d.created_date)),
        Some(SortByType::LastChangedDate) => all.sort_by_key(|d| millis(d.last_changed_date)),
        Some(SortByType::LastAccessedDate) => all.sort_by_key(|d| millis(d.last_accessed_date)),
        Some(SortByType::Name) | None => {}
        Some(SortByType::Unlisted(other)) => {
            return Err(Error::validation(format!(
                "1 validation error detected: Value '{other}' at 'sortBy' failed to satisfy \
                 constraint: Member must satisfy enum value set: [{}]",
                SortByType::VALUES.join(", ")
            )))
        }
    }
    if req.sort_order == Some(SortOrderType::Desc) {
        all.reverse();
    }
    let end = start.saturating_add(limit).min(all.len());
    let next_token = (end < all.len()).then(|| pagination::encode(&end.to_string()));
    let secret_list = all
        .into_iter()
        .skip(start)
        .take(limit)
        .map(|d| SecretListEntry {
            arn: d.arn,
            name: d.name,
            description: d.description,
            kms_key_id: d.kms_key_id,
            rotation_enabled: d.rotation_enabled,
            last_changed_date: d.last_changed_date,
            deleted_date: d.deleted_date,
            tags: d.tags,
            secret_versions_to_stages: d.version_ids_to_stages,
            created_date: d.created_date,
            ..Default::default()
        })
        .collect();
    Ok(ListSecretsResponse { secret_list: Some(secret_list), next_token })
}

/// ListSecretVersionIds: the versions with a staging label, and with
/// `IncludeDeprecated` the others too.
pub(crate) async fn list_secret_version_ids(
    ctx: &Ctx,
    req: ListSecretVersionIdsRequest,
) -> Result<ListSecretVersionIdsResponse, Error> {
    let id = secret_id(req.secret_id)?;
    let (_, record) = require(ctx, &id).await?;
    let all = req.include_deprecated.unwrap_or(false);
    let versions = record
        .versions
        .iter()
        .filter(|v| all || v.version_stages.as_ref().is_some_and(|s| !s.is_empty()))
        .map(|v| SecretVersionsListEntry {
            version_id: v.version_id.clone(),
            version_stages: v.version_stages.clone(),
            created_date: v.created_date,
            ..Default::default()
        })
        .collect();
    Ok(ListSecretVersionIdsResponse {
        versions: Some(versions),
        next_token: None,
        arn: record.secret.arn,
        name: record.secret.name,
    })
}

/// DeleteSecret: schedules deletion after a recovery window of 7 to 30 days
/// (30 by default), or deletes at once with `ForceDeleteWithoutRecovery`.
pub(crate) async fn delete_secret(
    ctx: &Ctx,
    req: DeleteSecretRequest,
) -> Result<DeleteSecretResponse, Error> {
    let id = secret_id(req.secret_id)?;
    let force = req.force_delete_without_recovery.unwrap_or(false);
    let days = match (req.recovery_window_in_days, force) {
        (Some(_), true) => {
            return Err(Error::invalid_parameter(
                "You can't use ForceDeleteWithoutRecovery in conjunction with \
                 RecoveryWindowInDays.",
            ))
        }
        (Some(d), false) if !(7..=30).contains(&d) => {
            return Err(Error::invalid_parameter(
                "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).",
            ))
        }
        (Some(d), false) => d,
        (None, _) => rules::DEFAULT_RECOVERY_WINDOW_DAYS,
    };
    let now = ctx.state.ops.clock.now();
    modify(ctx, &id, move |record| {
        let (outcome, date) = if force {
            (Outcome::Remove, now)
        } else {
            if record.is_scheduled_for_deletion() {
                return Err(Error::marked_for_deletion());
            }
            let date = Timestamp::from_millis(now.as_millis() + days * DAY_MS);
            record.secret.deleted_date = Some(date);
            (Outcome::Save, date)
        };
        let answer = DeleteSecretResponse {
            arn: record.secret.arn.clone(),
            name: record.secret.name.clone(),
            deletion_date: Some(date),
        };
        Ok((outcome, answer))
    })
    .await
}

/// RestoreSecret: cancels a scheduled deletion.
pub(crate) async fn restore_secret(
    ctx: &Ctx,
    req: RestoreSecretRequest,
) -> Result<RestoreSecretResponse, Error> {
    let id = secret_id(req.secret_id)?;
    modify(ctx, &id, |record| {
        let outcome = if record.secret.deleted_date.take().is_some() {
            Outcome::Save
        } else {
            Outcome::Leave
        };
        let answer = RestoreSecretResponse {
            arn: record.secret.arn.clone(),
            name: record.secret.name.clone(),
        };
        Ok((outcome, answer))
    })
    .await
}

/// The empty answer of operations without an output shape.
#[derive(Debug, serde::Serialize)]
pub(crate) struct Empty {}

/// TagResource: adds or overwrites tags by key.
pub(crate) async fn tag_resource(ctx: &Ctx, req: TagResourceRequest) -> Result<Empty, Error> {
    let id = secret_id(req.secret_id)?;
    let new = req.tags.ok_or_else(|| Error::missing("tags"))?;
    check_tags(&new)?;
    modify(ctx, &id, move |record| {
        let new = new.clone();
        if record.is_scheduled_for_deletion() {
            return Err(Error::marked_for_deletion());
        }
        let tags = record.secret.tags.get_or_insert_with(Vec::new);
        for t in new {
            match tags.iter_mut().find(|x| x.key == t.key) {
                Some(x) => x.value = t.value,
                None => tags.push(t),
            }
        }
        check_tags(tags)?;
        Ok((Outcome::Save, Empty {}))
    })
    .await
}

/// UntagResource.
pub(crate) async fn untag_resource(ctx: &Ctx, req: UntagResourceRequest) -> Result<Empty, Error> {
    let id = secret_id(req.secret_id)?;
    let keys = req.tag_keys.ok_or_else(|| Error::missing("tagKeys"))?;
    modify(ctx, &id, move |record| {
        if record.is_scheduled_for_deletion() {
            return Err(Error::marked_for_deletion());
        }
        if let Some(tags) = record.secret.tags.as_mut() {
            tags.retain(|t| !t.key.as_ref().is_some_and(|k| keys.contains(k)));
        }
        Ok((Outcome::Save, Empty {}))
    })
    .await
}
