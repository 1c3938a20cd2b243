//! Certificates: import, read, list, tag, delete.

use wharf_model::acm::shapes::{
    AddTagsToCertificateRequest, CertificateDetail, CertificateStatus, CertificateSummary,
    DeleteCertificateRequest, DescribeCertificateRequest, DescribeCertificateResponse,
    GetCertificateRequest, GetCertificateResponse, ImportCertificateRequest,
    ImportCertificateResponse, KeyAlgorithm, ListCertificatesRequest, ListCertificatesResponse,
    ListTagsForCertificateRequest, ListTagsForCertificateResponse,
    RemoveTagsFromCertificateRequest, Tag,
};
use wharf_model::acm::{
    self as rules, AcmError as Error, AcmErrorKind as ErrorKind, CertificateRecord,
};
use wharf_model::elbv2::ElbError;
use wharf_store::{Kind, Store};

use crate::context::Ctx;
use crate::pagination;
use crate::records::{self, Change};

/// Whether ACM holds the certificate `arn` in `region` (what a listener may use).
pub(crate) async fn exists(store: &dyn Store, region: &str, account: &str, arn: &str) -> bool {
    let Some((r, a, id)) = rules::parse_arn(arn) else { return false };
    if r != region || a != account {
        return false;
    }
    matches!(store.get(Kind::Certificate, region, id).await, Ok(Some(_)))
}

/// The certificate id an ARN names in this region and account.
fn id_of<'a>(ctx: &Ctx, arn: &'a str) -> Result<&'a str, Error> {
    let (region, account, id) = rules::parse_arn(arn).ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidArnException,
            format!("The certificate ARN {arn} is not valid."),
        )
    })?;
    if region != ctx.region || account != &*ctx.state.ops.account_id {
        return Err(Error::not_found(arn));
    }
    Ok(id)
}

fn required_arn(value: Option<String>) -> Result<String, Error> {
    let arn = value.ok_or_else(|| Error::missing("certificateArn"))?;
    if arn.len() < 20 || arn.len() > 2048 {
        return Err(Error::validation(format!(
            "1 validation error detected: Value '{arn}' at 'certificateArn' failed to satisfy \
             constraint: Member must have length between 20 and 2048"
        )));
    }
    Ok(arn)
}

async fn load(ctx: &Ctx, arn: &str) -> Result<(String, CertificateRecord), Error> {
    let id = id_of(ctx, arn)?;
    let found: Option<CertificateRecord> =
        records::get(ctx.store(), Kind::Certificate, &ctx.region, id).await?;
    found.map(|r| (id.to_owned(), r)).ok_or_else(|| Error::not_found(arn))
}

/// The load balancers whose listeners serve `arn`.
async fn in_use_by(ctx: &Ctx, arn: &str) -> Result<Vec<String>, Error> {
    let arn = arn.to_owned();
    let users = wharf_ops::elb_state::read(ctx.store(), &ctx.region, move |elb| {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = elb.load_balancers(after.as_deref(), 100)?;
            let Some((last, _)) = page.last() else { break };
            after = Some(last.clone());
            for (_, lb) in &page {
                let lb_arn = lb.load_balancer.load_balancer_arn.clone().unwrap_or_default();
                let serves =
                    elb.listeners(&lb_arn)?.iter().any(|l| l.certificate_arns().contains(&arn));
                if serves {
                    out.push(lb_arn);
                }
            }
            if page.len() < 100 {
                break;
            }
        }
        Ok::<_, ElbError>(out)
    })
    .await;
    let mut users = users.map_err(|e| {
        tracing::error!(error = %e, "ELBv2 state could not be read");
        Error::internal()
    })?;
    users.sort();
    Ok(users)
}

fn blob(value: Option<String>, member: &str, max: usize) -> Result<Vec<u8>, Error> {
    let text = value.ok_or_else(|| Error::missing(member))?;
    let bytes = wharf_model::acm::pem::base64(&text).ok_or_else(|| {
        Error::validation(format!("The value of '{member}' is not base64, as blobs are sent."))
    })?;
    if bytes.is_empty() || bytes.len() > max {
        return Err(Error::validation(format!(
            "1 validation error detected: Value at '{member}' failed to satisfy constraint: \
             Member must have length between 1 and {max}"
        )));
    }
    Ok(bytes)
}

fn check_tags(tags: &[Tag]) -> Result<(), Error> {
    if tags.len() > rules::MAX_TAGS {
        return Err(Error::new(
            ErrorKind::TooManyTagsException,
            format!("A certificate can have at most {} tags.", rules::MAX_TAGS),
        ));
    }
    for t in tags {
        let key = t.key.as_deref().unwrap_or_default();
        let value = t.value.as_deref().unwrap_or_default();
        if key.is_empty() || key.len() > 128 || value.len() > 256 {
            return Err(Error::new(
                ErrorKind::InvalidTagException,
                format!(
                    "The tag '{key}' is not valid: keys are 1 to 128 characters, values up to 256."
                ),
            ));
        }
        if key.to_ascii_lowercase().starts_with("aws:") {
            return Err(Error::new(
                ErrorKind::InvalidTagException,
                format!("The tag key '{key}' is reserved: keys may not begin with aws:."),
            ));
        }
    }
    Ok(())
}

/// Tags with those of `new` put over them, key by key.
fn merge_tags(tags: &mut Vec<Tag>, new: Vec<Tag>) {
    for t in new {
        match tags.iter_mut().find(|o| o.key == t.key) {
            Some(old) => old.value = t.value,
            None => tags.push(t),
        }
    }
}

/// ImportCertificate: a new certificate, or a new one in place of an
/// imported one (`CertificateArn`), keeping its ARN, tags and users.
pub(crate) async fn import_certificate(
    ctx: &Ctx,
    req: ImportCertificateRequest,
) -> Result<ImportCertificateResponse, Error> {
    let certificate = blob(req.certificate, "certificate", rules::MAX_CERTIFICATE_LEN)?;
    let private_key = blob(req.private_key, "privateKey", rules::MAX_PRIVATE_KEY_LEN)?;
    let chain = match req.certificate_chain {
        Some(c) => Some(blob(Some(c), "certificateChain", rules::MAX_CHAIN_LEN)?),
        None => None,
    };
    let tags = req.tags.unwrap_or_default();
    check_tags(&tags)?;
    let now = ctx.state.ops.clock.now();
    let imported = rules::import(&certificate, &private_key, chain.as_deref(), now)?;
    let (id, arn) = match &req.certificate_arn {
        Some(arn) => {
            if !tags.is_empty() {
                return Err(Error::validation(
                    "Tags cannot be given when re-importing a certificate; use AddTagsToCertificate.",
                ));
            }
            let (id, _) = load(ctx, arn).await?;
            (id, arn.clone())
        }
        None => {
            let id = uuid::Uuid::new_v4().to_string();
            let arn = rules::arn(&ctx.region, &ctx.state.ops.account_id, &id);
            (id, arn)
        }
    };
    let reimport = req.certificate_arn.is_some();
    let answer = arn.clone();
    records::update(
        ctx.store(),
        Kind::Certificate,
        &ctx.region,
        &id,
        move |cur: Option<CertificateRecord>| {
            let tags = match (&cur, reimport) {
                (Some(old), true) => old.tags.clone(),
                (None, true) => return Err(Error::not_found(&arn)),
                (_, false) => tags.clone(),
            };
            Ok((Change::Put(imported.record(&arn, now, tags)), ()))
        },
    )
    .await?;
    Ok(ImportCertificateResponse { certificate_arn: Some(answer) })
}

/// DescribeCertificate, with its status now and its users.
pub(crate) async fn describe_certificate(
    ctx: &Ctx,
    req: DescribeCertificateRequest,
) -> Result<DescribeCertificateResponse, Error> {
    let arn = required_arn(req.certificate_arn)?;
    let (_, record) = load(ctx, &arn).await?;
    let mut detail: CertificateDetail = record.detail.clone();
    detail.status = Some(record.status(ctx.state.ops.clock.now()));
    detail.in_use_by = Some(in_use_by(ctx, &arn).await?);
    Ok(DescribeCertificateResponse { certificate: Some(detail) })
}

/// GetCertificate: the certificate and its chain, PEM (never the key).
pub(crate) async fn get_certificate(
    ctx: &Ctx,
    req: GetCertificateRequest,
) -> Result<GetCertificateResponse, Error> {
    let arn = required_arn(req.certificate_arn)?;
    let (_, record) = load(ctx, &arn).await?;
    Ok(GetCertificateResponse {
        certificate: Some(record.certificate),
        certificate_chain: record.chain,
    })
}

/// ListCertificates, filtered by status and key type (by default RSA 1024
/// and 2048 only, as ACM lists), in ARN order, paged.
pub(crate) async fn list_certificates(
    ctx: &Ctx,
    req: ListCertificatesRequest,
) -> Result<ListCertificatesResponse, Error> {
    let limit = match req.max_items {
        None => rules::MAX_ITEMS as usize,
        Some(n) if (1..=rules::MAX_ITEMS).contains(&n) => n as usize,
        Some(_) => {
            return Err(Error::validation(format!(
                "1 validation error detected: Value at 'maxItems' failed to satisfy constraint: \
                 Member must have value between 1 and {}",
                rules::MAX_ITEMS
            )))
        }
    };
    let statuses = req.certificate_statuses.unwrap_or_default();
    let key_types: Vec<String> = match req.includes.and_then(|i| i.key_types) {
        Some(types) if !types.is_empty() => types.iter().map(|t| t.as_str().to_owned()).collect(),
        _ => vec!["RSA_1024".into(), "RSA_2048".into()],
    };
    let after = match req.next_token.as_deref() {
        Some(t) => Some(pagination::decode(t).map_err(|_| {
            Error::new(ErrorKind::InvalidArgsException, "The NextToken is not valid.")
        })?),
        None => None,
    };
    let now = ctx.state.ops.clock.now();
    let mut out = Vec::new();
    let mut cursor = after.clone();
    let mut next = None;
    'pages: loop {
        let page: Vec<(String, CertificateRecord)> =
            records::list(ctx.store(), Kind::Certificate, &ctx.region, cursor.as_deref(), 100)
                .await?;
        let full = page.len() == 100;
        for (key, record) in page {
            cursor = Some(key.clone());
            let status = record.status(now);
            let algorithm =
                record.detail.key_algorithm.as_ref().map(KeyAlgorithm::as_str).unwrap_or("");
            let filter_name = algorithm.replace('-', "_");
            if (!statuses.is_empty() && !statuses.contains(&status))
                || !key_types.contains(&filter_name)
            {
                continue;
            }
            if out.len() == limit {
                next = Some(pagination::encode(out_last_key(&out)));
                break 'pages;
            }
            out.push((key, summary(&record, status, ctx).await?));
        }
        if !full {
            break;
        }
    }
    Ok(ListCertificatesResponse {
        next_token: next,
        certificate_summary_list: Some(out.into_iter().map(|(_, s)| s).collect()),
    })
}

fn out_last_key(out: &[(String, CertificateSummary)]) -> &str {
    out.last().map_or("", |(k, _)| k.as_str())
}

async fn summary(
    record: &CertificateRecord,
    status: CertificateStatus,
    ctx: &Ctx,
) -> Result<CertificateSummary, Error> {
    let d = &record.detail;
    let arn = d.certificate_arn.clone().unwrap_or_default();
    let sans = d.subject_alternative_names.clone().unwrap_or_default();
    Ok(CertificateSummary {
        certificate_arn: d.certificate_arn.clone(),
        domain_name: d.domain_name.clone(),
        has_additional_subject_alternative_names: Some(sans.len() > 100),
        subject_alternative_name_summaries: Some(sans.into_iter().take(100).collect()),
        status: Some(status),
        r#type: d.r#type.clone(),
        key_algorithm: d.key_algorithm.clone(),
        key_usages: d
            .key_usages
            .as_ref()
            .map(|k| k.iter().filter_map(|u| u.name.clone()).collect()),
        extended_key_usages: d
            .extended_key_usages
            .as_ref()
            .map(|k| k.iter().filter_map(|u| u.name.clone()).collect()),
        in_use: Some(!in_use_by(ctx, &arn).await?.is_empty()),
        renewal_eligibility: d.renewal_eligibility.clone(),
        not_before: d.not_before,
        not_after: d.not_after,
        imported_at: d.imported_at,
        ..Default::default()
    })
}

/// DeleteCertificate: refused while a listener serves it.
pub(crate) async fn delete_certificate(
    ctx: &Ctx,
    req: DeleteCertificateRequest,
) -> Result<(), Error> {
    let arn = required_arn(req.certificate_arn)?;
    let (id, _) = load(ctx, &arn).await?;
    let users = in_use_by(ctx, &arn).await?;
    if !users.is_empty() {
        return Err(Error::new(
            ErrorKind::ResourceInUseException,
            format!("Certificate {arn} in use by {}", users.join(", ")),
        ));
    }
    records::update(
        ctx.store(),
        Kind::Certificate,
        &ctx.region,
        &id,
        move |cur: Option<CertificateRecord>| match cur {
            Some(_) => Ok((Change::Delete, ())),
            None => Err(Error::not_found(&arn)),
        },
    )
    .await
}

async fn change_tags(
    ctx: &Ctx,
    arn: Option<String>,
    change: impl Fn(&mut Vec<Tag>) + Send + 'static,
) -> Result<(), Error> {
    let arn = required_arn(arn)?;
    let (id, _) = load(ctx, &arn).await?;
    records::update(
        ctx.store(),
        Kind::Certificate,
        &ctx.region,
        &id,
        move |cur: Option<CertificateRecord>| {
            let mut record = cur.ok_or_else(|| Error::not_found(&arn))?;
            change(&mut record.tags);
            if record.tags.len() > rules::MAX_TAGS {
                return Err(Error::new(
                    ErrorKind::TooManyTagsException,
                    format!("A certificate can have at most {} tags.", rules::MAX_TAGS),
                ));
            }
            Ok((Change::Put(record), ()))
        },
    )
    .await
}

/// AddTagsToCertificate.
pub(crate) async fn add_tags(ctx: &Ctx, req: AddTagsToCertificateRequest) -> Result<(), Error> {
    let tags = req.tags.ok_or_else(|| Error::missing("tags"))?;
    if tags.is_empty() {
        return Err(Error::validation(
            "1 validation error detected: Value '[]' at 'tags' failed to satisfy constraint: \
             Member must have length greater than or equal to 1",
        ));
    }
    check_tags(&tags)?;
    change_tags(ctx, req.certificate_arn, move |t| merge_tags(t, tags.clone())).await
}

/// RemoveTagsFromCertificate: a tag given with a value goes only when its
/// value is that one.
pub(crate) async fn remove_tags(
    ctx: &Ctx,
    req: RemoveTagsFromCertificateRequest,
) -> Result<(), Error> {
    let gone = req.tags.ok_or_else(|| Error::missing("tags"))?;
    change_tags(ctx, req.certificate_arn, move |tags| {
        tags.retain(|t| {
            !gone.iter().any(|g| g.key == t.key && (g.value.is_none() || g.value == t.value))
        })
    })
    .await
}

/// ListTagsForCertificate.
pub(crate) async fn list_tags(
    ctx: &Ctx,
    req: ListTagsForCertificateRequest,
) -> Result<ListTagsForCertificateResponse, Error> {
    let arn = required_arn(req.certificate_arn)?;
    let (_, record) = load(ctx, &arn).await?;
    Ok(ListTagsForCertificateResponse { tags: Some(record.tags) })
}
