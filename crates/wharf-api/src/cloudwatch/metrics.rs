//! Metrics: PutMetricData, GetMetricStatistics, GetMetricData, ListMetrics
//! over this server's metric data (`wharf_ops::metrics`: what Wharf gathers
//! from what runs, and what PutMetricData is given).

use wharf_model::cloudwatch::series::{MetricKey, Stats};
use wharf_model::cloudwatch::shapes::{
    Datapoint, Dimension, GetMetricDataInput, GetMetricDataOutput, GetMetricStatisticsInput,
    GetMetricStatisticsOutput, ListMetricsInput, ListMetricsOutput, Metric, MetricDataResult,
    PutMetricDataInput, RecentlyActive, ScanBy, StandardUnit, Statistic, StatusCode,
};
use wharf_model::cloudwatch::CloudWatchError;
use wharf_model::wire::Timestamp;

use crate::context::Ctx;
use crate::protocol::ApiError;

fn required<T>(v: Option<T>, name: &str) -> Result<T, CloudWatchError> {
    v.ok_or_else(|| CloudWatchError::missing(name))
}

fn now(ctx: &Ctx) -> i64 {
    ctx.state.ops.clock.now_millis()
}

fn check_dimensions(dims: &[Dimension], at: &str) -> Result<(), CloudWatchError> {
    if dims.len() > 30 {
        return Err(CloudWatchError::invalid(format!(
            "The collection {at}.Dimensions must not have a size greater than 30."
        )));
    }
    for d in dims {
        let (n, v) = (d.name.as_deref().unwrap_or(""), d.value.as_deref().unwrap_or(""));
        if n.is_empty() || n.len() > 255 || v.is_empty() || v.len() > 1024 {
            return Err(CloudWatchError::invalid(format!(
                "The dimension {at}.Dimensions name and value must be 1 to 255 and 1 to 1024 \
                 characters long."
            )));
        }
    }
    Ok(())
}

pub(crate) async fn put_metric_data(ctx: &Ctx, req: PutMetricDataInput) -> Result<Empty, ApiError> {
    let namespace = required(req.namespace, "Namespace")?;
    if namespace.starts_with("AWS/") || namespace.is_empty() || namespace.len() > 255 {
        return Err(CloudWatchError::invalid(format!(
            "The value {namespace} for parameter Namespace is invalid."
        ))
        .into());
    }
    let data = required(req.metric_data, "MetricData")?;
    if data.is_empty() || data.len() > 1000 {
        return Err(CloudWatchError::invalid(
            "The collection MetricData must not have a size greater than 1000.",
        )
        .into());
    }
    // Checked whole before anything is kept: all or nothing.
    let at = now(ctx);
    let mut puts: Vec<(MetricKey, i64, Stats, Option<String>)> = Vec::new();
    for (i, d) in data.iter().enumerate() {
        let member = format!("MetricData.member.{}", i + 1);
        let name = required(d.metric_name.clone(), &format!("{member}.MetricName"))?;
        let dims = d.dimensions.clone().unwrap_or_default();
        check_dimensions(&dims, &member)?;
        let ts = d.timestamp.map_or(at, Timestamp::as_millis);
        if ts < at - 14 * 86_400_000 || ts > at + 2 * 3_600_000 {
            return Err(CloudWatchError::invalid(format!(
                "The parameter {member}.Timestamp must specify a time no more than two weeks in \
                 the past or two hours in the future."
            ))
            .into());
        }
        let finite = |v: f64| v.is_finite();
        let stats = match (d.value, &d.values, &d.statistic_values) {
            (Some(v), None, None) if finite(v) => Stats::one(v),
            (None, Some(values), None) => {
                let counts = d.counts.clone().unwrap_or_else(|| vec![1.0; values.len()]);
                if counts.len() != values.len()
                    || values.is_empty()
                    || values.iter().any(|v| !finite(*v))
                {
                    return Err(CloudWatchError::invalid(format!(
                        "The parameters {member}.Values and {member}.Counts must be of the same \
                         size, finite and not empty."
                    ))
                    .into());
                }
                values
                    .iter()
                    .zip(&counts)
                    .fold(None::<Stats>, |acc, (v, c)| {
                        let s = Stats { count: *c, sum: v * c, min: *v, max: *v };
                        Some(acc.map_or(s, |a| a.merge(s)))
                    })
                    .unwrap_or(Stats::one(0.0))
            }
            (None, None, Some(set)) => {
                let (Some(count), Some(sum), Some(min), Some(max)) =
                    (set.sample_count, set.sum, set.minimum, set.maximum)
                else {
                    return Err(
                        CloudWatchError::missing(&format!("{member}.StatisticValues")).into()
                    );
                };
                Stats { count, sum, min, max }
            }
            _ => {
                return Err(CloudWatchError::combination(format!(
                    "The parameters {member}.Value, {member}.Values and {member}.StatisticValues \
                     are mutually exclusive and one of them must be specified."
                ))
                .into())
            }
        };
        let unit = d.unit.as_ref().map(|u| u.as_str().to_owned());
        puts.push((MetricKey::of(&namespace, &name, &dims), ts, stats, unit));
    }
    for (key, ts, stats, unit) in puts {
        ctx.state.ops.metrics.put(&ctx.region, key, ts, stats, unit, at);
    }
    Ok(Empty {})
}

/// Checks a period as CloudWatch does: 1, 5, 10, 20, 30 or a multiple of 60.
fn check_period(period: i32, member: &str) -> Result<i64, CloudWatchError> {
    if period <= 0 || !(matches!(period, 1 | 5 | 10 | 20 | 30) || period % 60 == 0) {
        return Err(CloudWatchError::invalid(format!(
            "The parameter {member} must be 1, 5, 10, 20, 30, or a multiple of 60."
        )));
    }
    Ok(i64::from(period) * 1000)
}

fn time_range(
    start: Option<Timestamp>,
    end: Option<Timestamp>,
) -> Result<(i64, i64), CloudWatchError> {
    let start = required(start, "StartTime")?.as_millis();
    let end = required(end, "EndTime")?.as_millis();
    if start >= end {
        return Err(CloudWatchError::invalid(
            "The parameter StartTime must be less than the parameter EndTime.",
        ));
    }
    Ok((start, end))
}

/// The unit a series' values were put with (`None` when none was).
fn unit_of(ctx: &Ctx, key: &MetricKey) -> StandardUnit {
    let unit = ctx.state.ops.metrics.unit(&ctx.region, key);
    StandardUnit::from(unit.as_deref().unwrap_or("None"))
}

/// An output with no members: `{}`.
#[derive(Debug, serde::Serialize)]
pub(crate) struct Empty {}

pub(crate) async fn get_metric_statistics(
    ctx: &Ctx,
    req: GetMetricStatisticsInput,
) -> Result<GetMetricStatisticsOutput, ApiError> {
    let namespace = required(req.namespace, "Namespace")?;
    let name = required(req.metric_name, "MetricName")?;
    let (start, end) = time_range(req.start_time, req.end_time)?;
    let period = check_period(required(req.period, "Period")?, "Period")?;
    let statistics = req.statistics.unwrap_or_default();
    if req.extended_statistics.as_ref().is_some_and(|e| !e.is_empty()) {
        return Err(CloudWatchError::invalid(
            "Wharf does not compute percentiles (ExtendedStatistics).",
        )
        .into());
    }
    if statistics.is_empty() {
        return Err(CloudWatchError::missing("Statistics").into());
    }
    if let Some(bad) = statistics.iter().find(|s| matches!(s, Statistic::Unlisted(_))) {
        return Err(CloudWatchError::invalid(format!(
            "The parameter Statistics value {bad} is invalid."
        ))
        .into());
    }
    let key = MetricKey::of(&namespace, &name, req.dimensions.as_deref().unwrap_or(&[]));
    if (end - start) / period > 1440 {
        return Err(CloudWatchError::invalid(
            "You have requested up to 1,440 datapoints, which exceeds the limit of 1,440. You may \
             reduce the datapoints requested by increasing Period, or decreasing the time range.",
        )
        .into());
    }
    let unit = unit_of(ctx, &key);
    let datapoints = ctx
        .state
        .ops
        .metrics
        .query(&ctx.region, &key, start, end, period)
        .into_iter()
        .map(|(at, s)| {
            let pick = |st: Statistic| statistics.contains(&st).then(|| s.statistic(&st)).flatten();
            Datapoint {
                timestamp: Some(Timestamp::from_millis(at)),
                sample_count: pick(Statistic::SampleCount),
                average: pick(Statistic::Average),
                sum: pick(Statistic::Sum),
                minimum: pick(Statistic::Minimum),
                maximum: pick(Statistic::Maximum),
                unit: Some(unit.clone()),
                ..Datapoint::default()
            }
        })
        .collect();
    Ok(GetMetricStatisticsOutput { label: Some(name), datapoints: Some(datapoints) })
}

pub(crate) async fn get_metric_data(
    ctx: &Ctx,
    req: GetMetricDataInput,
) -> Result<GetMetricDataOutput, ApiError> {
    let (start, end) = time_range(req.start_time, req.end_time)?;
    let queries = required(req.metric_data_queries, "MetricDataQueries")?;
    if queries.is_empty() || queries.len() > 500 {
        return Err(CloudWatchError::invalid(
            "The collection MetricDataQueries must have between 1 and 500 items.",
        )
        .into());
    }
    let descending = req.scan_by.as_ref() != Some(&ScanBy::TimestampAscending);
    let mut results = Vec::new();
    for (i, q) in queries.iter().enumerate() {
        let member = format!("MetricDataQueries.member.{}", i + 1);
        let id = required(q.id.clone(), &format!("{member}.Id"))?;
        if q.expression.is_some() {
            return Err(CloudWatchError::invalid(format!(
                "{member}.Expression: metric math is not supported by Wharf; use MetricStat."
            ))
            .into());
        }
        let stat = required(q.metric_stat.clone(), &format!("{member}.MetricStat"))?;
        let metric = required(stat.metric.clone(), &format!("{member}.MetricStat.Metric"))?;
        let namespace =
            required(metric.namespace.clone(), &format!("{member}.MetricStat.Metric.Namespace"))?;
        let name = required(
            metric.metric_name.clone(),
            &format!("{member}.MetricStat.Metric.MetricName"),
        )?;
        let period = check_period(
            required(stat.period, &format!("{member}.MetricStat.Period"))?,
            &format!("{member}.MetricStat.Period"),
        )?;
        let statistic = Statistic::from(
            required(stat.stat.clone(), &format!("{member}.MetricStat.Stat"))?.as_str(),
        );
        if matches!(statistic, Statistic::Unlisted(_)) {
            return Err(CloudWatchError::invalid(format!(
                "The parameter {member}.MetricStat.Stat must be SampleCount, Average, Sum, \
                 Minimum or Maximum."
            ))
            .into());
        }
        if q.return_data == Some(false) {
            continue;
        }
        let key = MetricKey::of(&namespace, &name, metric.dimensions.as_deref().unwrap_or(&[]));
        let mut points: Vec<(i64, f64)> = ctx
            .state
            .ops
            .metrics
            .query(&ctx.region, &key, start, end, period)
            .into_iter()
            .filter_map(|(at, s)| Some((at, s.statistic(&statistic)?)))
            .collect();
        if descending {
            points.reverse();
        }
        results.push(MetricDataResult {
            id: Some(id),
            label: Some(q.label.clone().unwrap_or(name)),
            timestamps: Some(points.iter().map(|(t, _)| Timestamp::from_millis(*t)).collect()),
            values: Some(points.iter().map(|(_, v)| *v).collect()),
            status_code: Some(StatusCode::Complete),
            messages: Some(vec![]),
        });
    }
    Ok(GetMetricDataOutput {
        metric_data_results: Some(results),
        messages: Some(vec![]),
        ..Default::default()
    })
}

pub(crate) async fn list_metrics(
    ctx: &Ctx,
    req: ListMetricsInput,
) -> Result<ListMetricsOutput, ApiError> {
    const PAGE: usize = 500;
    let filters = req.dimensions.unwrap_or_default();
    if filters.len() > 10 {
        return Err(CloudWatchError::invalid(
            "The collection Dimensions must not have a size greater than 10.",
        )
        .into());
    }
    let recent = req.recently_active.as_ref() == Some(&RecentlyActive::Pt3h);
    let horizon = now(ctx) - 3 * 3_600_000;
    let all = ctx.state.ops.metrics.list(&ctx.region, |k| {
        req.namespace.as_ref().is_none_or(|n| *n == k.namespace)
            && req.metric_name.as_ref().is_none_or(|n| *n == k.name)
            && filters.iter().all(|f| {
                k.dimensions.iter().any(|(n, v)| {
                    Some(n) == f.name.as_ref() && f.value.as_ref().is_none_or(|fv| fv == v)
                })
            })
    });
    let all: Vec<MetricKey> =
        all.into_iter().filter(|(_, last)| !recent || *last >= horizon).map(|(k, _)| k).collect();
    let start = match req.next_token.as_deref() {
        None => 0,
        Some(t) => t
            .parse::<usize>()
            .ok()
            .filter(|i| *i <= all.len())
            .ok_or_else(CloudWatchError::next_token)?,
    };
    let end = (start + PAGE).min(all.len());
    Ok(ListMetricsOutput {
        metrics: Some(
            all[start..end]
                .iter()
                .map(|k| Metric {
                    namespace: Some(k.namespace.clone()),
                    metric_name: Some(k.name.clone()),
                    dimensions: Some(k.wire_dimensions()),
                })
                .collect(),
        ),
        next_token: (end < all.len()).then(|| end.to_string()),
        ..Default::default()
    })
}
