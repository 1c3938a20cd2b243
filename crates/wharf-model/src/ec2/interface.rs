//! The network interface (ENI) of an `awsvpc` task, as EC2's
//! DescribeNetworkInterfaces shows it: read from the task's
//! `ElasticNetworkInterface` attachment, which the agent fills in with the
//! interface id, address and MAC once the task's network namespace exists.

use crate::ecs::shapes::Task;
use crate::ecs::status::AttachmentStatus;

/// One task's interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    /// `eni-...`.
    pub id: String,
    /// The attachment's id (the interface's description names it).
    pub attachment_id: String,
    /// Its subnet.
    pub subnet_id: String,
    /// Its private IPv4 address: the task's.
    pub private_ip: String,
    /// Its private DNS name.
    pub private_dns_name: String,
    /// Its MAC address.
    pub mac_address: String,
    /// The task's Availability Zone.
    pub availability_zone: String,
    /// The task's ARN.
    pub task_arn: String,
}

/// The interface of `task`, if it has an attached (or attaching) one with
/// an id.
pub fn of_task(task: &Task) -> Option<Interface> {
    let attachment = task.attachments.as_deref()?.iter().find(|a| {
        a.r#type.as_deref() == Some("ElasticNetworkInterface")
            && matches!(a.status, Some(AttachmentStatus::Attached | AttachmentStatus::Attaching))
    })?;
    let detail = |name: &str| {
        attachment
            .details
            .as_deref()?
            .iter()
            .find(|kv| kv.name.as_deref() == Some(name))
            .and_then(|kv| kv.value.clone())
    };
    Some(Interface {
        id: detail("networkInterfaceId")?,
        attachment_id: attachment.id.clone().unwrap_or_default(),
        subnet_id: detail("subnetId").unwrap_or_default(),
        private_ip: detail("privateIPv4Address")?,
        private_dns_name: detail("privateDnsName").unwrap_or_default(),
        mac_address: detail("macAddress").unwrap_or_default(),
        availability_zone: task.availability_zone.clone().unwrap_or_default(),
        task_arn: task.task_arn.clone().unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_attached_eni_reads_back() {
        let task: Task = serde_json::from_value(serde_json::json!({
            "taskArn": "arn:aws:ecs:us-east-1:1:task/c/t",
            "availabilityZone": "us-east-1a",
            "attachments": [{"id": "att", "type": "ElasticNetworkInterface", "status": "ATTACHED",
                "details": [{"name": "subnetId", "value": "subnet-12345678"},
                            {"name": "networkInterfaceId", "value": "eni-0123456789abcdef0"},
                            {"name": "macAddress", "value": "02:42:0a:00:00:02"},
                            {"name": "privateIPv4Address", "value": "10.0.0.2"}]}]
        }))
        .expect("task");
        let eni = of_task(&task).expect("eni");
        assert_eq!(eni.id, "eni-0123456789abcdef0");
        assert_eq!(eni.private_ip, "10.0.0.2");
        assert_eq!(eni.subnet_id, "subnet-12345678");
        let mut pending = task.clone();
        if let Some(a) = pending.attachments.as_mut().and_then(|a| a.first_mut()) {
            a.status = Some(AttachmentStatus::Precreated);
        }
        assert_eq!(of_task(&pending), None);
    }
}
