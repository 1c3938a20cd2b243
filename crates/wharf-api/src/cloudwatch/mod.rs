//! Amazon CloudWatch on AWS JSON 1.0 (`X-Amz-Target:
//! GraniteServiceVersion20100801.<Operation>`, as the AWS CLI and SDKs
//! call CloudWatch today; errors carry the Query code in
//! `x-amzn-query-error`): alarms ([`alarms`]: PutMetricAlarm,
//! DescribeAlarms, SetAlarmState, DeleteAlarms; one store document per
//! alarm, keyed by name, target tracking's among them; states read through
//! `wharf_ops::alarms`, as ECS deployments and scaling policies read them)
//! and metrics ([`metrics`]: PutMetricData, GetMetricData,
//! GetMetricStatistics, ListMetrics).

mod alarms;
mod metrics;

use crate::context::Ctx;
use crate::protocol::{self, ApiError};

/// Runs one CloudWatch operation on a request body.
pub async fn handle(ctx: &Ctx, op: &str, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    protocol::operations!(ctx, op, body, {
        "PutMetricAlarm" => alarms::put_metric_alarm,
        "DescribeAlarms" => alarms::describe_alarms,
        "SetAlarmState" => alarms::set_alarm_state,
        "DeleteAlarms" => alarms::delete_alarms,
        "PutMetricData" => metrics::put_metric_data,
        "GetMetricStatistics" => metrics::get_metric_statistics,
        "GetMetricData" => metrics::get_metric_data,
        "ListMetrics" => metrics::list_metrics,
    })
}

/// The Query code and fault CloudWatch's `x-amzn-query-error` header gives
/// an error answered as `__type` (`ResourceNotFound;Sender`).
pub fn query_error_header(type_name: &str) -> Option<String> {
    use wharf_model::cloudwatch::CloudWatchErrorKind as K;
    let kind = K::ALL.into_iter().find(|k| k.wire_name() == type_name)?;
    let fault = if kind.http_status() >= 500 { "Receiver" } else { "Sender" };
    Some(format!("{};{fault}", kind.query_code()))
}
