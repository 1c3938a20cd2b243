//! Elastic Load Balancing v2 (Application Load Balancers): wire shapes, the
//! records the store keeps, ARNs, defaults, attribute tables and the rules
//! ELBv2 applies to requests.
//!
//! The records are what the data plane (`wharf-lb`) reads: a load balancer
//! with its listeners, each listener's rules (the default rule is the
//! listener's `DefaultActions`), the target groups they forward to and their
//! registered targets. The data plane writes what it observes of a target's
//! health into [`TargetRecord::health`]; the API reports it through
//! [`health::describe`].

pub mod arn;
pub mod attributes;
pub mod error;
pub mod health;
pub mod registration;
pub mod rules;
pub mod shapes;
pub mod ssl_policy;
pub mod validate;

use serde::{Deserialize, Serialize};

pub use error::{ElbError, ElbErrorKind};
use shapes::{
    Listener, LoadBalancer, LoadBalancerAttribute, TargetDescription, TargetGroup,
    TargetGroupAttribute, TargetHealthReasonEnum, TargetHealthStateEnum,
};

/// The XML namespace of every ELBv2 answer.
pub const XML_NAMESPACE: &str = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/";
/// The API version requests name.
pub const API_VERSION: &str = "2015-12-01";

/// Load balancers per region (ELBv2's default quota).
pub const MAX_LOAD_BALANCERS: usize = 50;
/// Target groups per region.
pub const MAX_TARGET_GROUPS: usize = 3000;
/// Listeners per load balancer.
pub const MAX_LISTENERS: usize = 50;
/// Certificates per Application Load Balancer listener, the default not counted.
pub const MAX_LISTENER_CERTIFICATES: usize = 25;
/// Rules per load balancer, not counting default rules.
pub const MAX_RULES: usize = 100;
/// Targets per target group (as Wharf bounds it; ALB's quota per load balancer).
pub const MAX_TARGETS: usize = 1000;
/// Tags per resource.
pub const MAX_TAGS: usize = 50;
/// The longest load balancer or target group name.
pub const MAX_NAME_LEN: usize = 32;
/// The lowest and highest rule priority.
pub const PRIORITIES: std::ops::RangeInclusive<i32> = 1..=50_000;
/// The largest `PageSize` of a Describe call.
pub const MAX_PAGE_SIZE: i32 = 400;

/// The VPC Wharf's load balancers and target groups live in when the request
/// names none (Wharf has no VPCs; this stands in for the default one).
pub const DEFAULT_VPC_ID: &str = "vpc-00000000000000001";
/// The security group a load balancer gets when the request names none.
pub const DEFAULT_SECURITY_GROUP: &str = "sg-00000000000000001";

/// One load balancer as the store keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LoadBalancerRecord {
    /// The `LoadBalancer` shape as DescribeLoadBalancers answers it.
    pub load_balancer: LoadBalancer,
    /// Every attribute, defaults included.
    pub attributes: Vec<LoadBalancerAttribute>,
}

/// One target group as the store keeps it. `LoadBalancerArns` is not kept:
/// it follows from the listeners and rules that forward to the group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TargetGroupRecord {
    /// The `TargetGroup` shape, without `LoadBalancerArns`.
    pub target_group: TargetGroup,
    /// Every attribute, defaults included.
    pub attributes: Vec<TargetGroupAttribute>,
}

impl TargetGroupRecord {
    /// The value of an attribute, if set.
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.key.as_deref() == Some(key))
            .and_then(|a| a.value.as_deref())
    }

    /// `deregistration_delay.timeout_seconds`, in milliseconds.
    pub fn deregistration_delay_ms(&self) -> i64 {
        self.attribute(attributes::DEREGISTRATION_DELAY)
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(300)
            * 1000
    }
}

/// One listener as the store keeps it: the `Listener` shape (its
/// `DefaultActions` are the default rule's actions) and the ARN of its
/// default rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListenerRecord {
    /// The `Listener` shape.
    pub listener: Listener,
    /// The ARN DescribeRules gives the default rule.
    pub default_rule_arn: String,
    /// The certificates AddListenerCertificates added (ACM ARNs), which an
    /// HTTPS listener chooses among by SNI; the default certificate is the
    /// listener's `Certificates`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_certificates: Vec<String>,
}

impl ListenerRecord {
    /// Every certificate the listener serves: the default first.
    pub fn certificate_arns(&self) -> Vec<String> {
        let default = self.listener.certificates.iter().flatten();
        default
            .filter_map(|c| c.certificate_arn.clone())
            .chain(self.extra_certificates.iter().cloned())
            .collect()
    }
}

/// One registered target as the store keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TargetRecord {
    /// Id, port (always set: the group's port when the request gave none)
    /// and Availability Zone.
    pub target: TargetDescription,
    /// When it was (last) registered, ms since the epoch.
    pub registered_ms: i64,
    /// When it was deregistered; it drains for the group's deregistration
    /// delay from then and is gone after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deregistered_ms: Option<i64>,
    /// What the data plane last observed; `None` until it has checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<ObservedHealth>,
}

/// A target's health as the data plane observed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ObservedHealth {
    /// `healthy`, `unhealthy`, `initial`, ...
    pub state: TargetHealthStateEnum,
    /// The reason code (none when healthy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<TargetHealthReasonEnum>,
    /// The description (none when healthy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// When it was observed, ms since the epoch.
    pub observed_ms: i64,
}

/// The Route 53 hosted zone of a region's Application Load Balancers, as
/// `CanonicalHostedZoneId` reports it (AWS's published table; regions not in
/// it get us-east-1's).
pub fn canonical_hosted_zone_id(region: &str) -> &'static str {
    match region {
        "us-east-2" => "Z3AADJGX6KTTL2",
        "us-west-1" => "Z368ELLRRE2KJ0",
        "us-west-2" => "Z1H1FL5HABSF5",
        "ca-central-1" => "ZQSVJUPU6J1EY",
        "eu-west-1" => "Z32O12XQLNTSW2",
        "eu-west-2" => "ZHURV8PSTC4K8",
        "eu-west-3" => "Z3Q77PNBQS71R4",
        "eu-central-1" => "Z215JYRZR1TBD5",
        "eu-north-1" => "Z23TAZ7KKHRPHY",
        "ap-south-1" => "ZP97RAFLXTNZK",
        "ap-northeast-1" => "Z14GRHDCWA56QT",
        "ap-northeast-2" => "ZWKZPGTI48KDX",
        "ap-southeast-1" => "Z1LMS91P8CMLE5",
        "ap-southeast-2" => "Z1GM3OXH4ZPM65",
        "sa-east-1" => "Z2P70J7HTTTPLU",
        _ => "Z35SXDOTRQ7X7K",
    }
}

/// A load balancer's `DNSName`: `NAME-NUMBER.REGION.elb.amazonaws.com`,
/// with `internal-` in front for an internal one.
pub fn dns_name(name: &str, number: u64, region: &str, internal: bool) -> String {
    let prefix = if internal { "internal-" } else { "" };
    format!("{prefix}{name}-{number}.{region}.elb.amazonaws.com")
}
