//! Amazon CloudWatch's alarms on AWS JSON 1.0 (`X-Amz-Target:
//! GraniteServiceVersion20100801.<Operation>`, as the AWS CLI and SDKs
//! call CloudWatch today; errors carry the Query code in
//! `x-amzn-query-error`): PutMetricAlarm, DescribeAlarms, SetAlarmState,
//! DeleteAlarms. One store document per alarm, keyed by name. States are
//! read through [`wharf_model::cloudwatch::state`], as ECS deployments read
//! them (`wharf_ops::alarms`).

mod alarms;

use crate::context::Ctx;
use crate::protocol::{self, ApiError};

/// Runs one CloudWatch operation on a request body.
pub async fn handle(ctx: &Ctx, op: &str, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    protocol::operations!(ctx, op, body, {
        "PutMetricAlarm" => alarms::put_metric_alarm,
        "DescribeAlarms" => alarms::describe_alarms,
        "SetAlarmState" => alarms::set_alarm_state,
        "DeleteAlarms" => alarms::delete_alarms,
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
