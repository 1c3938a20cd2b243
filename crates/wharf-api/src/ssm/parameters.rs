//! Parameters: PutParameter, GetParameter, GetParameters,
//! GetParametersByPath, GetParameterHistory, DescribeParameters,
//! DeleteParameter, DeleteParameters.

use wharf_model::ssm::shapes::{
    DeleteParameterRequest, DeleteParameterResult, DeleteParametersRequest, DeleteParametersResult,
    DescribeParametersRequest, DescribeParametersResult, GetParameterHistoryRequest,
    GetParameterHistoryResult, GetParameterRequest, GetParameterResult, GetParametersByPathRequest,
    GetParametersByPathResult, GetParametersRequest, GetParametersResult, Parameter,
    ParameterHistory, ParameterMetadata, ParameterStringFilter, ParameterTier, ParameterType,
    ParametersFilterKey, PutParameterRequest, PutParameterResult, Tag,
};
use wharf_model::ssm::{
    self as rules, ParameterRecord, ParameterRef, Selector, SsmError, SsmErrorKind,
};
use wharf_store::{Kind, Store};

use super::tags;
use crate::context::Ctx;
use crate::pagination;
use crate::records::{self, Change};

/// How many documents a scan reads at a time.
const PAGE: usize = 100;

fn type_error(t: &ParameterType) -> SsmError {
    SsmError::validation(format!(
        "1 validation error detected: Value '{t}' at 'type' failed to satisfy constraint: Member \
         must satisfy enum value set: [SecureString, StringList, String]"
    ))
}

fn bad_token() -> SsmError {
    SsmError::new(SsmErrorKind::InvalidNextToken, "The specified token isn't valid.")
}

fn decode_token(token: Option<&str>) -> Result<Option<String>, SsmError> {
    token.map(|t| pagination::decode(t).map_err(|_| bad_token())).transpose()
}

fn max_results(value: Option<i32>, max: i32, default: usize) -> Result<usize, SsmError> {
    match value {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n as usize),
        Some(n) => Err(SsmError::validation(format!(
            "1 validation error detected: Value '{n}' at 'maxResults' failed to satisfy \
             constraint: Member must have value between 1 and {max}"
        ))),
    }
}

/// Finds a parameter by reference in `region`: the store key it lives under
/// and its record.
pub(crate) async fn lookup(
    store: &dyn Store,
    region: &str,
    reference: &ParameterRef,
) -> Result<Option<(String, ParameterRecord)>, SsmError> {
    for key in &reference.keys {
        let found: Option<ParameterRecord> =
            records::get(store, Kind::Parameter, region, key).await?;
        if let Some(record) = found {
            return Ok(Some((key.clone(), record)));
        }
    }
    Ok(None)
}

/// The value as a reader sees it: a SecureString's plaintext only with
/// decryption, otherwise Wharf's stand-in for the ciphertext.
fn visible_value(ctx: &Ctx, h: &ParameterHistory, decrypt: bool) -> Option<String> {
    if h.r#type == Some(ParameterType::SecureString) && !decrypt {
        let arn = arn_of(ctx, h);
        let key = h.key_id.as_deref().unwrap_or(rules::DEFAULT_KEY_ID);
        return Some(rules::opaque_ciphertext(key, &arn, h.version.unwrap_or(0)));
    }
    h.value.clone()
}

fn arn_of(ctx: &Ctx, h: &ParameterHistory) -> String {
    rules::parameter_arn(&ctx.region, &ctx.state.ops.account_id, h.name.as_deref().unwrap_or(""))
}

fn to_parameter(
    ctx: &Ctx,
    h: &ParameterHistory,
    decrypt: bool,
    selector: Option<&Selector>,
) -> Parameter {
    Parameter {
        name: h.name.clone(),
        r#type: h.r#type.clone(),
        value: visible_value(ctx, h, decrypt),
        version: h.version,
        selector: selector.map(Selector::wire),
        source_result: None,
        last_modified_date: h.last_modified_date,
        arn: Some(arn_of(ctx, h)),
        data_type: h.data_type.clone(),
    }
}

fn to_metadata(ctx: &Ctx, h: &ParameterHistory) -> ParameterMetadata {
    ParameterMetadata {
        name: h.name.clone(),
        arn: Some(arn_of(ctx, h)),
        r#type: h.r#type.clone(),
        key_id: h.key_id.clone(),
        last_modified_date: h.last_modified_date,
        last_modified_user: h.last_modified_user.clone(),
        description: h.description.clone(),
        allowed_pattern: h.allowed_pattern.clone(),
        version: h.version,
        tier: h.tier.clone(),
        policies: Some(vec![]),
        data_type: h.data_type.clone(),
    }
}

/// The tier a value ends up in, or SSM's refusal.
fn effective_tier(
    requested: Option<&ParameterTier>,
    current: Option<&ParameterTier>,
    value_len: usize,
) -> Result<ParameterTier, SsmError> {
    let too_big = || {
        SsmError::validation(format!(
            "Advanced tier parameters support a maximum parameter value of {} characters.",
            rules::ADVANCED_MAX_VALUE
        ))
    };
    let tier = match requested {
        Some(ParameterTier::Standard) => {
            if current == Some(&ParameterTier::Advanced) {
                return Err(SsmError::validation(
                    "This parameter uses the advanced-parameter tier. You can't downgrade a \
                     parameter from the advanced-parameter tier to the standard-parameter tier. \
                     If necessary, you can delete the advanced parameter and recreate it as a \
                     standard parameter.",
                ));
            }
            ParameterTier::Standard
        }
        Some(ParameterTier::Advanced) => ParameterTier::Advanced,
        Some(ParameterTier::IntelligentTiering) | None => {
            if value_len > rules::STANDARD_MAX_VALUE || current == Some(&ParameterTier::Advanced) {
                ParameterTier::Advanced
            } else {
                ParameterTier::Standard
            }
        }
        Some(ParameterTier::Unlisted(t)) => {
            return Err(SsmError::validation(format!(
                "1 validation error detected: Value '{t}' at 'tier' failed to satisfy \
                 constraint: Member must satisfy enum value set: [Advanced, \
                 Intelligent-Tiering, Standard]"
            )))
        }
    };
    let limit = match tier {
        ParameterTier::Standard => rules::STANDARD_MAX_VALUE,
        _ => rules::ADVANCED_MAX_VALUE,
    };
    if value_len > limit {
        return Err(if tier == ParameterTier::Standard && requested.is_some() {
            SsmError::validation(format!(
                "Standard tier parameters support a maximum parameter value of {} characters. \
                 To create a larger parameter value, upgrade the parameter to use the \
                 advanced-parameter tier.",
                rules::STANDARD_MAX_VALUE
            ))
        } else {
            too_big()
        });
    }
    Ok(tier)
}

/// PutParameter: creates version 1, or with `Overwrite` the next version;
/// SSM keeps the last 100.
pub(crate) async fn put_parameter(
    ctx: &Ctx,
    req: PutParameterRequest,
) -> Result<PutParameterResult, SsmError> {
    let name = req.name.ok_or_else(|| SsmError::missing("name"))?;
    rules::validate_name(&name)?;
    let value = req.value.ok_or_else(|| SsmError::missing("value"))?;
    if value.is_empty() {
        return Err(SsmError::validation(
            "1 validation error detected: Value at 'value' failed to satisfy constraint: Member \
             must have length greater than or equal to 1",
        ));
    }
    if let Some(t) = req.r#type.as_ref().filter(|t| !t.is_known()) {
        return Err(type_error(t));
    }
    if let Some(d) = &req.description {
        if d.chars().count() > 1024 {
            return Err(SsmError::validation(
                "1 validation error detected: Value at 'description' failed to satisfy \
                 constraint: Member must have length less than or equal to 1024",
            ));
        }
    }
    if let Some(k) = &req.key_id {
        let ok = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b':' | b'/' | b'_' | b'-');
        if k.is_empty() || k.len() > 256 || !k.bytes().all(ok) {
            return Err(SsmError::new(SsmErrorKind::InvalidKeyId, "The KeyId is not valid."));
        }
    }
    let data_type = req.data_type.unwrap_or_else(|| "text".to_owned());
    if !matches!(data_type.as_str(), "text" | "aws:ec2:image" | "aws:ssm:integration") {
        return Err(SsmError::validation(format!(
            "The following data type is not supported: {data_type} (Data type names are all \
             lowercase.)"
        )));
    }
    let overwrite = req.overwrite.unwrap_or(false);
    let new_tags = req.tags.unwrap_or_default();
    if overwrite && !new_tags.is_empty() {
        return Err(SsmError::validation(
            "Invalid request: tags and overwrite can't be used together. To create a parameter \
             with tags, please remove overwrite flag. To update tags for an existing parameter, \
             please use AddTagsToResource or RemoveTagsFromResource.",
        ));
    }
    tags::validate(&new_tags)?;
    let value_len = value.chars().count();
    let user = ctx.root_principal();
    let now = ctx.state.ops.clock.now();
    let (requested_type, key_id, description, allowed_pattern, requested_tier) =
        (req.r#type, req.key_id, req.description, req.allowed_pattern, req.tier);
    let store_name = name.clone();

    records::update(ctx.store(), Kind::Parameter, &ctx.region, &name, move |cur| {
        let allowed_pattern = allowed_pattern.clone();
        let data_type = data_type.clone();
        let description = description.clone();
        let key_id = key_id.clone();
        let new_tags = new_tags.clone();
        let requested_type = requested_type.clone();
        let store_name = store_name.clone();
        let user = user.clone();
        let value = value.clone();
        let cur: Option<ParameterRecord> = cur;
        let last = cur.as_ref().and_then(|r| r.current().cloned());
        if last.is_some() && !overwrite {
            return Err(SsmError::new(
                SsmErrorKind::ParameterAlreadyExists,
                "The parameter already exists. To overwrite this request value, set the \
                 overwrite option in the request to true.",
            ));
        }
        let r#type = match (requested_type, &last) {
            (Some(t), _) => t,
            (None, Some(l)) => l.r#type.clone().unwrap_or(ParameterType::String),
            (None, None) => {
                return Err(SsmError::validation(
                    "A parameter type is required when you create a parameter.",
                ))
            }
        };
        let key_id = match (&r#type, key_id) {
            (ParameterType::SecureString, Some(k)) => Some(k),
            (ParameterType::SecureString, None) => Some(
                last.as_ref()
                    .and_then(|l| l.key_id.clone())
                    .unwrap_or_else(|| rules::DEFAULT_KEY_ID.to_owned()),
            ),
            (_, Some(_)) => {
                return Err(SsmError::validation(
                    "KeyId is only used with the SecureString parameter type.",
                ))
            }
            (_, None) => None,
        };
        let tier = effective_tier(
            requested_tier.as_ref(),
            last.as_ref().and_then(|l| l.tier.as_ref()),
            value_len,
        )?;
        let version = last.as_ref().and_then(|l| l.version).unwrap_or(0) + 1;
        let entry = ParameterHistory {
            name: Some(store_name),
            r#type: Some(r#type),
            key_id,
            last_modified_date: Some(now),
            last_modified_user: Some(user),
            description: description.or_else(|| last.as_ref().and_then(|l| l.description.clone())),
            value: Some(value),
            allowed_pattern: allowed_pattern
                .or_else(|| last.as_ref().and_then(|l| l.allowed_pattern.clone())),
            version: Some(version),
            labels: Some(vec![]),
            tier: Some(tier.clone()),
            policies: Some(vec![]),
            data_type: Some(data_type),
        };
        let mut record = cur.unwrap_or_default();
        record.versions.push(entry);
        let excess = record.versions.len().saturating_sub(rules::MAX_VERSIONS);
        record.versions.drain(..excess);
        if !new_tags.is_empty() {
            record.tags = new_tags;
        }
        Ok((Change::Put(record), PutParameterResult { version: Some(version), tier: Some(tier) }))
    })
    .await
}

/// GetParameter: by name or ARN, with an optional `:version` or `:label`.
pub(crate) async fn get_parameter(
    ctx: &Ctx,
    req: GetParameterRequest,
) -> Result<GetParameterResult, SsmError> {
    let given = req.name.ok_or_else(|| SsmError::missing("name"))?;
    let reference = rules::parse_ref(&given)?;
    let decrypt = req.with_decryption.unwrap_or(false);
    let (_, record) = lookup(ctx.store(), &ctx.region, &reference)
        .await?
        .ok_or_else(|| SsmError::not_found(&given))?;
    let h =
        record.select(reference.selector.as_ref()).ok_or_else(|| match &reference.selector {
            Some(Selector::Version(v)) => SsmError::new(
                SsmErrorKind::ParameterVersionNotFound,
                format!(
                    "Systems Manager could not find version {v} of {}. Verify the version and try \
                 again.",
                    reference.keys[0]
                ),
            ),
            _ => SsmError::not_found(&given),
        })?;
    Ok(GetParameterResult {
        parameter: Some(to_parameter(ctx, h, decrypt, reference.selector.as_ref())),
    })
}

/// GetParameters: up to 10 names; the ones not found come back in
/// `InvalidParameters` as they were given.
pub(crate) async fn get_parameters(
    ctx: &Ctx,
    req: GetParametersRequest,
) -> Result<GetParametersResult, SsmError> {
    let names = req.names.ok_or_else(|| SsmError::missing("names"))?;
    check_name_list(&names)?;
    let decrypt = req.with_decryption.unwrap_or(false);
    let (mut found, mut invalid) = (Vec::new(), Vec::new());
    for given in names {
        let Ok(reference) = rules::parse_ref(&given) else {
            invalid.push(given);
            continue;
        };
        let hit = lookup(ctx.store(), &ctx.region, &reference).await?;
        match hit.as_ref().and_then(|(_, r)| r.select(reference.selector.as_ref())) {
            Some(h) => found.push(to_parameter(ctx, h, decrypt, reference.selector.as_ref())),
            None => invalid.push(given),
        }
    }
    Ok(GetParametersResult { parameters: Some(found), invalid_parameters: Some(invalid) })
}

fn check_name_list(names: &[String]) -> Result<(), SsmError> {
    if names.is_empty() || names.len() > 10 {
        return Err(SsmError::validation(format!(
            "1 validation error detected: Value at 'names' failed to satisfy constraint: Member \
             must have length {} 10",
            if names.is_empty() {
                "greater than or equal to 1, and less than or equal to"
            } else {
                "less than or equal to"
            }
        )));
    }
    Ok(())
}

/// A filter of GetParametersByPath or DescribeParameters, checked.
#[derive(Debug)]
enum Filter {
    Name { option: String, values: Vec<String> },
    Path { recursive: bool, values: Vec<String> },
    Type(Vec<String>),
    KeyId(Vec<String>),
    Tier(Vec<String>),
    DataType(Vec<String>),
    Label,
    Tag { key: String, values: Vec<String> },
}

impl Filter {
    fn matches(&self, record: &ParameterRecord, h: &ParameterHistory) -> bool {
        let name = h.name.as_deref().unwrap_or("");
        let one_of =
            |vs: &Vec<String>, v: Option<&str>| v.is_some_and(|v| vs.iter().any(|x| x == v));
        match self {
            Filter::Name { option, values } => values.iter().any(|v| {
                let (n, v) = (name.trim_start_matches('/'), v.trim_start_matches('/'));
                match option.as_str() {
                    "BeginsWith" => n.starts_with(v),
                    "Contains" => n.contains(v),
                    _ => n == v,
                }
            }),
            Filter::Path { recursive, values } => {
                values.iter().any(|p| rules::is_under(name, p, *recursive))
            }
            Filter::Type(vs) => one_of(vs, h.r#type.as_ref().map(ParameterType::as_str)),
            Filter::KeyId(vs) => one_of(vs, h.key_id.as_deref()),
            Filter::Tier(vs) => one_of(vs, h.tier.as_ref().map(ParameterTier::as_str)),
            Filter::DataType(vs) => one_of(vs, h.data_type.as_deref()),
            Filter::Label => false,
            Filter::Tag { key, values } => record.tags.iter().any(|t| {
                t.key.as_deref() == Some(key.as_str())
                    && (values.is_empty() || one_of(values, t.value.as_deref()))
            }),
        }
    }
}

fn invalid_key(key: &str, valid: &str) -> SsmError {
    SsmError::new(
        SsmErrorKind::InvalidFilterKey,
        format!(
            "The following filter key is not valid: {key}. Valid filter keys include: [{valid}]."
        ),
    )
}

fn check_filters(
    filters: Vec<ParameterStringFilter>,
    by_path: bool,
) -> Result<Vec<Filter>, SsmError> {
    let valid = if by_path {
        "Type, KeyId, Label"
    } else {
        "Name, Path, Type, KeyId, Label, Tier, DataType, tag:<key>"
    };
    let mut out = Vec::with_capacity(filters.len());
    for f in filters {
        let key = f.key.ok_or_else(|| SsmError::missing("parameterFilters.member.key"))?;
        let values = f.values.unwrap_or_default();
        let option = f.option;
        let allowed: &[&str] = match key.as_str() {
            "Name" => &["Equals", "BeginsWith", "Contains"],
            "Path" => &["OneLevel", "Recursive"],
            _ if key.starts_with("tag:") => &["Equals"],
            _ => &["Equals"],
        };
        if let Some(o) = option.as_deref().filter(|o| !allowed.contains(o)) {
            return Err(SsmError::new(
                SsmErrorKind::InvalidFilterOption,
                format!(
                    "The filter option is not valid: {o}. Valid options for {key} include: [{}].",
                    allowed.join(", ")
                ),
            ));
        }
        let needs_values = !key.starts_with("tag:");
        if needs_values && values.is_empty() {
            return Err(SsmError::new(
                SsmErrorKind::InvalidFilterValue,
                format!("The filter for {key} must have at least one value."),
            ));
        }
        if by_path && !matches!(key.as_str(), "Type" | "KeyId" | "Label") {
            return Err(invalid_key(&key, valid));
        }
        out.push(match key.as_str() {
            "Name" => Filter::Name { option: option.unwrap_or_else(|| "Equals".into()), values },
            "Path" => {
                for p in &values {
                    rules::validate_path(p)?;
                }
                Filter::Path { recursive: option.as_deref() == Some("Recursive"), values }
            }
            "Type" => Filter::Type(values),
            "KeyId" => Filter::KeyId(values),
            "Tier" => Filter::Tier(values),
            "DataType" => Filter::DataType(values),
            "Label" => Filter::Label,
            k => match k.strip_prefix("tag:") {
                Some(tag) if !tag.is_empty() => Filter::Tag { key: tag.to_owned(), values },
                _ => return Err(invalid_key(k, valid)),
            },
        });
    }
    Ok(out)
}

/// GetParametersByPath: the parameters one level under `Path` (or every
/// level with `Recursive`), in name order, 10 at a time by default.
pub(crate) async fn get_parameters_by_path(
    ctx: &Ctx,
    req: GetParametersByPathRequest,
) -> Result<GetParametersByPathResult, SsmError> {
    let path = req.path.ok_or_else(|| SsmError::missing("path"))?;
    rules::validate_path(&path)?;
    let recursive = req.recursive.unwrap_or(false);
    let decrypt = req.with_decryption.unwrap_or(false);
    let limit = max_results(req.max_results, 10, 10)?;
    let filters = check_filters(req.parameter_filters.unwrap_or_default(), true)?;
    let after = decode_token(req.next_token.as_deref())?;
    let (prefix, _) = rules::path_prefix(&path);
    let mut hits: Vec<(String, Parameter)> = Vec::new();
    records::scan_prefix::<ParameterRecord, SsmError, _>(
        ctx.store(),
        Kind::Parameter,
        &ctx.region,
        &prefix,
        after.as_deref(),
        PAGE,
        |key, record| {
            if let Some(h) = record.current() {
                if rules::is_under(&key, &path, recursive)
                    && filters.iter().all(|f| f.matches(&record, h))
                {
                    hits.push((key, to_parameter(ctx, h, decrypt, None)));
                }
            }
            hits.len() <= limit
        },
    )
    .await?;
    let next_token = page_token(&mut hits, limit);
    Ok(GetParametersByPathResult {
        parameters: Some(hits.into_iter().map(|(_, p)| p).collect()),
        next_token,
    })
}

/// Cuts `hits` to `limit`; the token to resume after the last one kept, if
/// there were more.
fn page_token<T>(hits: &mut Vec<(String, T)>, limit: usize) -> Option<String> {
    if hits.len() <= limit {
        return None;
    }
    hits.truncate(limit);
    hits.last().map(|(k, _)| pagination::encode(k))
}

/// DescribeParameters: metadata (never values), in name order, with the
/// legacy `Filters` or the newer `ParameterFilters`.
pub(crate) async fn describe_parameters(
    ctx: &Ctx,
    req: DescribeParametersRequest,
) -> Result<DescribeParametersResult, SsmError> {
    let limit = max_results(req.max_results, 50, 50)?;
    let filters = match (req.filters, req.parameter_filters) {
        (Some(_), Some(_)) => {
            return Err(SsmError::validation(
                "You can use either Filters or ParameterFilters in a single request.",
            ))
        }
        (Some(legacy), None) => {
            let mut out = Vec::new();
            for f in legacy {
                let values = f.values.unwrap_or_default();
                out.push(match f.key {
                    Some(ParametersFilterKey::Name) => {
                        Filter::Name { option: "BeginsWith".into(), values }
                    }
                    Some(ParametersFilterKey::Type) => Filter::Type(values),
                    Some(ParametersFilterKey::KeyId) => Filter::KeyId(values),
                    Some(ParametersFilterKey::Unlisted(k)) => {
                        return Err(invalid_key(&k, "Name, Type, KeyId"))
                    }
                    None => return Err(SsmError::missing("filters.member.key")),
                });
            }
            out
        }
        (None, Some(filters)) => check_filters(filters, false)?,
        (None, None) => vec![],
    };
    let after = decode_token(req.next_token.as_deref())?;
    let mut hits: Vec<(String, ParameterMetadata)> = Vec::new();
    records::scan_prefix::<ParameterRecord, SsmError, _>(
        ctx.store(),
        Kind::Parameter,
        &ctx.region,
        "",
        after.as_deref(),
        PAGE,
        |key, record| {
            if let Some(h) = record.current() {
                if filters.iter().all(|f| f.matches(&record, h)) {
                    hits.push((key, to_metadata(ctx, h)));
                }
            }
            hits.len() <= limit
        },
    )
    .await?;
    let next_token = page_token(&mut hits, limit);
    Ok(DescribeParametersResult {
        parameters: Some(hits.into_iter().map(|(_, p)| p).collect()),
        next_token,
    })
}

/// GetParameterHistory: every kept version, oldest first.
pub(crate) async fn get_parameter_history(
    ctx: &Ctx,
    req: GetParameterHistoryRequest,
) -> Result<GetParameterHistoryResult, SsmError> {
    let given = req.name.ok_or_else(|| SsmError::missing("name"))?;
    let reference = rules::parse_ref(&given)?;
    let decrypt = req.with_decryption.unwrap_or(false);
    let limit = max_results(req.max_results, 50, 50)?;
    let start: usize = match decode_token(req.next_token.as_deref())? {
        Some(s) => s.parse().map_err(|_| bad_token())?,
        None => 0,
    };
    let (_, record) = lookup(ctx.store(), &ctx.region, &reference)
        .await?
        .ok_or_else(|| SsmError::not_found(&given))?;
    let page: Vec<ParameterHistory> = record
        .versions
        .iter()
        .skip(start)
        .take(limit)
        .map(|h| ParameterHistory { value: visible_value(ctx, h, decrypt), ..h.clone() })
        .collect();
    let end = start.saturating_add(page.len());
    let next_token = (end < record.versions.len()).then(|| pagination::encode(&end.to_string()));
    Ok(GetParameterHistoryResult { parameters: Some(page), next_token })
}

/// Deletes one parameter by name; whether it existed.
async fn delete_one(ctx: &Ctx, given: &str) -> Result<bool, SsmError> {
    let Ok(reference) = rules::parse_ref(given) else { return Ok(false) };
    if reference.selector.is_some() {
        return Ok(false);
    }
    let Some((key, _)) = lookup(ctx.store(), &ctx.region, &reference).await? else {
        return Ok(false);
    };
    records::update(ctx.store(), Kind::Parameter, &ctx.region, &key, |cur| {
        let cur: Option<ParameterRecord> = cur;
        Ok(match cur {
            Some(_) => (Change::Delete, true),
            None => (Change::Keep, false),
        })
    })
    .await
}

/// DeleteParameter.
pub(crate) async fn delete_parameter(
    ctx: &Ctx,
    req: DeleteParameterRequest,
) -> Result<DeleteParameterResult, SsmError> {
    let name = req.name.ok_or_else(|| SsmError::missing("name"))?;
    if !delete_one(ctx, &name).await? {
        return Err(SsmError::not_found(&name));
    }
    Ok(DeleteParameterResult {})
}

/// DeleteParameters: up to 10; the ones not found come back in
/// `InvalidParameters`.
pub(crate) async fn delete_parameters(
    ctx: &Ctx,
    req: DeleteParametersRequest,
) -> Result<DeleteParametersResult, SsmError> {
    let names = req.names.ok_or_else(|| SsmError::missing("names"))?;
    check_name_list(&names)?;
    let (mut deleted, mut invalid) = (Vec::new(), Vec::new());
    for name in names {
        if delete_one(ctx, &name).await? {
            deleted.push(name);
        } else {
            invalid.push(name);
        }
    }
    Ok(DeleteParametersResult {
        deleted_parameters: Some(deleted),
        invalid_parameters: Some(invalid),
    })
}

/// The current tags of a parameter, for the tag handlers.
pub(crate) fn tags_of(record: &ParameterRecord) -> Vec<Tag> {
    record.tags.clone()
}
