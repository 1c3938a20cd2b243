//! A region's network as one document: its VPCs, subnets and security
//! groups, with the default VPC a new AWS account has (one default subnet
//! per Availability Zone, a default security group), and EC2's rules for
//! creating and deleting them.
//!
//! Security group rules are stored and described as EC2 has them. Wharf does
//! not filter traffic to task addresses, so it accepts only ingress rules
//! that are true of its network (from anywhere: `0.0.0.0/0` or `::/0`) and
//! refuses narrower ones with [`NOT_ENFORCED`] rather than ignore them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::cidr::Cidr;
use super::{new_id, well_formed, Ec2Error, Tag};
use crate::ids::Entropy;
use crate::EcsError;

/// The default VPC's block, as AWS gives every account.
pub const DEFAULT_VPC_CIDR: &str = "172.31.0.0/16";
/// The prefix of each default subnet (`172.31.0.0/20`, `172.31.16.0/20`, ...).
pub const DEFAULT_SUBNET_PREFIX: u8 = 20;
/// The name of every VPC's default security group.
pub const DEFAULT_GROUP_NAME: &str = "default";
/// How many security groups a VPC may hold (EC2's default quota).
pub const MAX_GROUPS_PER_VPC: usize = 2500;
/// How many rules a security group may hold per direction (EC2's default quota).
pub const MAX_RULES: usize = 60;
/// Why a narrowing ingress rule is refused.
pub const NOT_ENFORCED: &str = "Wharf does not filter traffic to task addresses, so it accepts \
     only ingress rules from anywhere (0.0.0.0/0 or ::/0); a rule from a narrower source would \
     not be enforced. See docs/ec2.md.";

/// A region's VPCs, subnets and security groups, by id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Network {
    /// Whether the default VPC was made (it is not made again once deleted,
    /// as in AWS).
    #[serde(default)]
    pub default_vpc_made: bool,
    /// VPCs.
    #[serde(default)]
    pub vpcs: BTreeMap<String, Vpc>,
    /// Subnets.
    #[serde(default)]
    pub subnets: BTreeMap<String, Subnet>,
    /// Security groups.
    #[serde(default)]
    pub groups: BTreeMap<String, SecurityGroup>,
}

/// A VPC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Vpc {
    /// `vpc-...`.
    pub id: String,
    /// Its IPv4 block.
    pub cidr_block: String,
    /// The block's association id (`vpc-cidr-assoc-...`).
    pub cidr_association_id: String,
    /// Whether it is the region's default VPC.
    pub is_default: bool,
    /// `default` or `dedicated`.
    pub instance_tenancy: String,
    /// Its tags.
    #[serde(default)]
    pub tags: Vec<Tag>,
}

/// A subnet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subnet {
    /// `subnet-...`.
    pub id: String,
    /// Its VPC.
    pub vpc_id: String,
    /// Its IPv4 block (inside its VPC's).
    pub cidr_block: String,
    /// Its Availability Zone.
    pub availability_zone: String,
    /// Whether it is its zone's default subnet (default VPC only).
    pub default_for_az: bool,
    /// Whether tasks launched in it get a public address.
    pub map_public_ip_on_launch: bool,
    /// Its tags.
    #[serde(default)]
    pub tags: Vec<Tag>,
}

/// A security group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityGroup {
    /// `sg-...`.
    pub id: String,
    /// Its name (unique in its VPC).
    pub name: String,
    /// Its description.
    pub description: String,
    /// Its VPC.
    pub vpc_id: String,
    /// Inbound rules.
    #[serde(default)]
    pub ingress: Vec<Permission>,
    /// Outbound rules.
    #[serde(default)]
    pub egress: Vec<Permission>,
    /// Its tags.
    #[serde(default)]
    pub tags: Vec<Tag>,
}

/// One rule: a protocol, a port range and the sources (or destinations).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Permission {
    /// `tcp`, `udp`, `icmp`, a protocol number, or `-1` for all.
    pub ip_protocol: String,
    /// First port (ICMP type), absent for all protocols.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_port: Option<i32>,
    /// Last port (ICMP code), absent for all protocols.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_port: Option<i32>,
    /// IPv4 sources.
    #[serde(default)]
    pub ip_ranges: Vec<String>,
    /// IPv6 sources.
    #[serde(default)]
    pub ipv6_ranges: Vec<String>,
    /// Source security groups by id.
    #[serde(default)]
    pub groups: Vec<String>,
}

impl Permission {
    fn all_traffic_to(cidr: &str) -> Self {
        Self {
            ip_protocol: "-1".into(),
            from_port: None,
            to_port: None,
            ip_ranges: vec![cidr.into()],
            ipv6_ranges: vec![],
            groups: vec![],
        }
    }

    /// The same protocol and ports.
    fn same_ports(&self, other: &Permission) -> bool {
        self.ip_protocol == other.ip_protocol
            && self.from_port == other.from_port
            && self.to_port == other.to_port
    }
}

/// What an `awsvpcConfiguration` names, checked against the network.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsvpcNames<'a> {
    /// Its subnets.
    pub subnets: &'a [String],
    /// Its security groups.
    pub security_groups: &'a [String],
}

impl Network {
    /// Makes the default VPC (once, as a new account has it), its default
    /// security group, and a default subnet for each of `zones` that has
    /// none. Returns whether anything changed.
    pub fn ensure_default(&mut self, zones: &[String], entropy: &dyn Entropy) -> bool {
        let mut changed = false;
        if !self.default_vpc_made {
            self.default_vpc_made = true;
            self.add_vpc(DEFAULT_VPC_CIDR, true, "default", vec![], entropy);
            changed = true;
        }
        let Some(vpc) = self.vpcs.values().find(|v| v.is_default).cloned() else {
            return changed;
        };
        let Some(block) = Cidr::parse(&vpc.cidr_block) else { return changed };
        for zone in zones {
            let has = self
                .subnets
                .values()
                .any(|s| s.vpc_id == vpc.id && s.default_for_az && &s.availability_zone == zone);
            if has {
                continue;
            }
            let taken: Vec<Cidr> =
                self.subnets_of(&vpc.id).filter_map(|s| Cidr::parse(&s.cidr_block)).collect();
            let free = (0..)
                .map_while(|i| block.nth(DEFAULT_SUBNET_PREFIX, i))
                .find(|c| !taken.iter().any(|t| t.overlaps(c)));
            let Some(free) = free else { break };
            let id = new_id("subnet", entropy);
            self.subnets.insert(
                id.clone(),
                Subnet {
                    id,
                    vpc_id: vpc.id.clone(),
                    cidr_block: free.to_string(),
                    availability_zone: zone.clone(),
                    default_for_az: true,
                    map_public_ip_on_launch: true,
                    tags: vec![],
                },
            );
            changed = true;
        }
        changed
    }

    /// The region's default VPC, if it has one.
    pub fn default_vpc(&self) -> Option<&Vpc> {
        self.vpcs.values().find(|v| v.is_default)
    }

    fn subnets_of<'a>(&'a self, vpc: &'a str) -> impl Iterator<Item = &'a Subnet> + 'a {
        self.subnets.values().filter(move |s| s.vpc_id == vpc)
    }

    fn add_vpc(
        &mut self,
        cidr: &str,
        is_default: bool,
        tenancy: &str,
        tags: Vec<Tag>,
        entropy: &dyn Entropy,
    ) -> Vpc {
        let vpc = Vpc {
            id: new_id("vpc", entropy),
            cidr_block: cidr.to_owned(),
            cidr_association_id: new_id("vpc-cidr-assoc", entropy),
            is_default,
            instance_tenancy: tenancy.to_owned(),
            tags,
        };
        let mut group = SecurityGroup {
            id: new_id("sg", entropy),
            name: DEFAULT_GROUP_NAME.to_owned(),
            description: "default VPC security group".to_owned(),
            vpc_id: vpc.id.clone(),
            ingress: vec![],
            egress: vec![Permission::all_traffic_to("0.0.0.0/0")],
            tags: vec![],
        };
        group.ingress.push(Permission {
            ip_protocol: "-1".into(),
            from_port: None,
            to_port: None,
            ip_ranges: vec![],
            ipv6_ranges: vec![],
            groups: vec![group.id.clone()],
        });
        self.groups.insert(group.id.clone(), group);
        self.vpcs.insert(vpc.id.clone(), vpc.clone());
        vpc
    }

    /// CreateVpc: a VPC of `cidr` (`/16` to `/28`) with its default
    /// security group.
    pub fn create_vpc(
        &mut self,
        cidr: &str,
        tenancy: Option<&str>,
        tags: Vec<Tag>,
        entropy: &dyn Entropy,
    ) -> Result<Vpc, Ec2Error> {
        let block = Cidr::parse(cidr).ok_or_else(|| {
            Ec2Error::invalid_value(format!(
                "Value ({cidr}) for parameter cidrBlock is invalid. This is not a valid CIDR block."
            ))
        })?;
        if !(16..=28).contains(&block.prefix()) {
            return Err(Ec2Error::new(
                "InvalidVpc.Range",
                format!("The CIDR '{cidr}' is invalid."),
            ));
        }
        let tenancy = tenancy.unwrap_or("default");
        if !["default", "dedicated"].contains(&tenancy) {
            return Err(Ec2Error::invalid_value(format!(
                "Value ({tenancy}) for parameter instanceTenancy is invalid. Valid values: default, dedicated"
            )));
        }
        Ok(self.add_vpc(&block.to_string(), false, tenancy, tags, entropy))
    }

    /// A VPC by id, or EC2's refusal.
    pub fn vpc(&self, id: &str) -> Result<&Vpc, Ec2Error> {
        if !well_formed(id, "vpc") {
            return Err(Ec2Error::malformed("InvalidVpcID.Malformed", id, "vpc"));
        }
        self.vpcs.get(id).ok_or_else(|| Ec2Error::not_found("InvalidVpcID.NotFound", "vpc", id))
    }

    /// DeleteVpc: refused while it has subnets or security groups other
    /// than its default one.
    pub fn delete_vpc(&mut self, id: &str) -> Result<(), Ec2Error> {
        self.vpc(id)?;
        let busy = self.subnets_of(id).next().is_some()
            || self.groups.values().any(|g| g.vpc_id == id && g.name != DEFAULT_GROUP_NAME);
        if busy {
            return Err(Ec2Error::new(
                "DependencyViolation",
                format!("The vpc '{id}' has dependencies and cannot be deleted."),
            ));
        }
        self.vpcs.remove(id);
        self.groups.retain(|_, g| g.vpc_id != id);
        Ok(())
    }

    /// CreateSubnet: a block inside its VPC's (`/16` to `/28`) that overlaps
    /// no other subnet of the VPC, in one of `zones` (the first when none is
    /// named).
    pub fn create_subnet(
        &mut self,
        vpc_id: &str,
        cidr: &str,
        zone: Option<&str>,
        zones: &[String],
        tags: Vec<Tag>,
        entropy: &dyn Entropy,
    ) -> Result<Subnet, Ec2Error> {
        let vpc = self.vpc(vpc_id)?.clone();
        let block = Cidr::parse(cidr).ok_or_else(|| {
            Ec2Error::invalid_value(format!(
                "Value ({cidr}) for parameter cidrBlock is invalid. This is not a valid CIDR block."
            ))
        })?;
        let within = Cidr::parse(&vpc.cidr_block).is_some_and(|v| v.covers(&block));
        if !within || !(16..=28).contains(&block.prefix()) {
            return Err(Ec2Error::new(
                "InvalidSubnet.Range",
                format!("The CIDR '{cidr}' is invalid."),
            ));
        }
        let clash = self
            .subnets_of(vpc_id)
            .any(|s| Cidr::parse(&s.cidr_block).is_some_and(|c| c.overlaps(&block)));
        if clash {
            return Err(Ec2Error::new(
                "InvalidSubnet.Conflict",
                format!("The CIDR '{cidr}' conflicts with another subnet"),
            ));
        }
        let zone = match zone {
            Some(z) if zones.iter().any(|k| k == z) => z.to_owned(),
            Some(z) => {
                return Err(Ec2Error::invalid_value(format!(
                    "Value ({z}) for parameter availabilityZone is invalid. Subnets can currently \
                     only be created in the following availability zones: {}.",
                    zones.join(", ")
                )))
            }
            None => zones.first().cloned().unwrap_or_default(),
        };
        let subnet = Subnet {
            id: new_id("subnet", entropy),
            vpc_id: vpc_id.to_owned(),
            cidr_block: block.to_string(),
            availability_zone: zone,
            default_for_az: false,
            map_public_ip_on_launch: false,
            tags,
        };
        self.subnets.insert(subnet.id.clone(), subnet.clone());
        Ok(subnet)
    }

    /// A subnet by id, or EC2's refusal.
    pub fn subnet(&self, id: &str) -> Result<&Subnet, Ec2Error> {
        if !well_formed(id, "subnet") {
            return Err(Ec2Error::malformed("InvalidSubnetID.Malformed", id, "subnet"));
        }
        self.subnets
            .get(id)
            .ok_or_else(|| Ec2Error::not_found("InvalidSubnetID.NotFound", "subnet", id))
    }

    /// DeleteSubnet; `in_use` says whether a task's interface is in it.
    pub fn delete_subnet(&mut self, id: &str, in_use: bool) -> Result<(), Ec2Error> {
        self.subnet(id)?;
        if in_use {
            return Err(Ec2Error::new(
                "DependencyViolation",
                format!("The subnet '{id}' has dependencies and cannot be deleted."),
            ));
        }
        self.subnets.remove(id);
        Ok(())
    }

    /// CreateSecurityGroup in `vpc_id` (the default VPC when absent).
    pub fn create_group(
        &mut self,
        name: &str,
        description: &str,
        vpc_id: Option<&str>,
        tags: Vec<Tag>,
        entropy: &dyn Entropy,
    ) -> Result<SecurityGroup, Ec2Error> {
        if name.is_empty() || name.len() > 255 {
            return Err(Ec2Error::invalid_value(
                "Invalid value for parameter GroupName: must be 1 to 255 characters long.",
            ));
        }
        if name.starts_with("sg-") {
            return Err(Ec2Error::invalid_value("Group names may not be in the format sg-*."));
        }
        if description.len() > 255 {
            return Err(Ec2Error::invalid_value(
                "Invalid value for parameter GroupDescription: must be at most 255 characters long.",
            ));
        }
        let printable = |s: &str| s.chars().all(|c| (' '..='~').contains(&c));
        if !printable(name) || !printable(description) {
            return Err(Ec2Error::invalid_value(
                "Character sets beyond ASCII are not supported in GroupName and GroupDescription.",
            ));
        }
        let vpc_id = match vpc_id {
            Some(v) => self.vpc(v)?.id.clone(),
            None => self.default_vpc().map(|v| v.id.clone()).ok_or_else(|| {
                Ec2Error::new("VPCIdNotSpecified", "No default VPC for this user")
            })?,
        };
        if name == DEFAULT_GROUP_NAME {
            return Err(Ec2Error::new(
                "InvalidGroup.Reserved",
                "The security group 'default' is reserved.",
            ));
        }
        let in_vpc: Vec<&SecurityGroup> =
            self.groups.values().filter(|g| g.vpc_id == vpc_id).collect();
        if in_vpc.iter().any(|g| g.name == name) {
            return Err(Ec2Error::new(
                "InvalidGroup.Duplicate",
                format!("The security group '{name}' already exists for VPC '{vpc_id}'"),
            ));
        }
        if in_vpc.len() >= MAX_GROUPS_PER_VPC {
            return Err(Ec2Error::new(
                "SecurityGroupLimitExceeded",
                "The maximum number of security groups has been reached.",
            ));
        }
        let group = SecurityGroup {
            id: new_id("sg", entropy),
            name: name.to_owned(),
            description: description.to_owned(),
            vpc_id,
            ingress: vec![],
            egress: vec![Permission::all_traffic_to("0.0.0.0/0")],
            tags,
        };
        self.groups.insert(group.id.clone(), group.clone());
        Ok(group)
    }

    /// A security group by id, or EC2's refusal.
    pub fn group(&self, id: &str) -> Result<&SecurityGroup, Ec2Error> {
        if !well_formed(id, "sg") {
            return Err(Ec2Error::malformed("InvalidGroupId.Malformed", id, "sg"));
        }
        self.groups.get(id).ok_or_else(|| {
            Ec2Error::new(
                "InvalidGroup.NotFound",
                format!("The security group '{id}' does not exist"),
            )
        })
    }

    /// A security group by id or, in the default VPC, by name.
    pub fn group_by(
        &self,
        id: Option<&str>,
        name: Option<&str>,
    ) -> Result<&SecurityGroup, Ec2Error> {
        match (id, name) {
            (Some(id), _) => self.group(id),
            (None, Some(name)) => {
                let vpc = self.default_vpc().map(|v| v.id.as_str()).unwrap_or("");
                self.groups.values().find(|g| g.vpc_id == vpc && g.name == name).ok_or_else(|| {
                    Ec2Error::new(
                        "InvalidGroup.NotFound",
                        format!(
                            "The security group '{name}' does not exist in default VPC '{vpc}'"
                        ),
                    )
                })
            }
            (None, None) => Err(Ec2Error::missing("GroupId")),
        }
    }

    /// DeleteSecurityGroup: not a VPC's default group, nor one another
    /// group's rule names.
    pub fn delete_group(
        &mut self,
        id: Option<&str>,
        name: Option<&str>,
    ) -> Result<String, Ec2Error> {
        let group = self.group_by(id, name)?.clone();
        if group.name == DEFAULT_GROUP_NAME {
            return Err(Ec2Error::new(
                "CannotDelete",
                format!(
                    "the specified group: \"{}\" name: \"default\" cannot be deleted by a user",
                    group.id
                ),
            ));
        }
        let referenced = self.groups.values().any(|g| {
            g.id != group.id
                && g.ingress.iter().chain(&g.egress).any(|p| p.groups.contains(&group.id))
        });
        if referenced {
            return Err(Ec2Error::new(
                "DependencyViolation",
                format!("resource {} has a dependent object", group.id),
            ));
        }
        self.groups.remove(&group.id);
        Ok(group.id)
    }

    /// AuthorizeSecurityGroupIngress: adds `permissions` to the group's
    /// inbound rules, after EC2's checks and Wharf's honesty rule
    /// ([`NOT_ENFORCED`]). Returns the group id.
    pub fn authorize_ingress(
        &mut self,
        id: Option<&str>,
        name: Option<&str>,
        permissions: Vec<Permission>,
    ) -> Result<String, Ec2Error> {
        let group_id = self.group_by(id, name)?.id.clone();
        if permissions.is_empty() {
            return Err(Ec2Error::missing("IpPermissions"));
        }
        for p in &permissions {
            check_permission(p)?;
            for source in &p.groups {
                self.group(source)?;
            }
            if !p.groups.is_empty()
                || p.ip_ranges.iter().any(|c| c != "0.0.0.0/0")
                || p.ipv6_ranges.iter().any(|c| c != "::/0")
            {
                return Err(Ec2Error::new("UnsupportedOperation", NOT_ENFORCED));
            }
        }
        let group = self
            .groups
            .get_mut(&group_id)
            .ok_or_else(|| Ec2Error::server("The security group vanished."))?;
        for p in permissions {
            let existing = group.ingress.iter_mut().find(|e| e.same_ports(&p));
            let duplicate = existing.as_ref().is_some_and(|e| {
                p.ip_ranges.iter().any(|c| e.ip_ranges.contains(c))
                    || p.ipv6_ranges.iter().any(|c| e.ipv6_ranges.contains(c))
            });
            if duplicate {
                return Err(Ec2Error::new(
                    "InvalidPermission.Duplicate",
                    format!("the specified rule \"{}\" already exists", describe_rule(&p)),
                ));
            }
            match existing {
                Some(e) => {
                    e.ip_ranges.extend(p.ip_ranges);
                    e.ipv6_ranges.extend(p.ipv6_ranges);
                }
                None => group.ingress.push(p),
            }
            if group.ingress.len() > MAX_RULES {
                return Err(Ec2Error::new(
                    "RulesPerSecurityGroupLimitExceeded",
                    "The maximum number of rules per security group has been reached.",
                ));
            }
        }
        Ok(group_id)
    }

    /// Checks an `awsvpcConfiguration` as ECS does when it launches: every
    /// subnet and security group exists, and they are all in one VPC.
    pub fn check_awsvpc(&self, names: &AwsvpcNames<'_>) -> Result<(), EcsError> {
        let mut vpcs: Vec<&str> = Vec::new();
        for s in names.subnets {
            let subnet = self.subnet(s).map_err(|e| {
                EcsError::invalid_parameter(format!(
                    "Error retrieving subnet information for [{s}]: {} (Service: AmazonEC2; \
                     Status Code: 400; Error Code: {})",
                    e.message, e.code
                ))
            })?;
            vpcs.push(&subnet.vpc_id);
        }
        for g in names.security_groups {
            let group = self.group(g).map_err(|e| {
                EcsError::invalid_parameter(format!(
                    "Error retrieving security group information for [{g}]: {} (Service: \
                     AmazonEC2; Status Code: 400; Error Code: {})",
                    e.message, e.code
                ))
            })?;
            if let Some(first) = vpcs.first().filter(|v| **v != group.vpc_id) {
                return Err(EcsError::invalid_parameter(format!(
                    "Security group {g} does not belong to VPC {first} of the given subnets."
                )));
            }
        }
        vpcs.dedup();
        if vpcs.len() > 1 {
            return Err(EcsError::invalid_parameter(
                "The subnets in networkConfiguration.awsvpcConfiguration must all be in the same VPC.",
            ));
        }
        Ok(())
    }
}

/// EC2's checks on one rule: a known protocol, ports for TCP and UDP in
/// 0-65535 with from <= to, at least one source.
fn check_permission(p: &Permission) -> Result<(), Ec2Error> {
    let protocol = p.ip_protocol.as_str();
    let named = ["tcp", "udp", "icmp", "icmpv6", "-1", "all"];
    let numbered = protocol.parse::<i32>().is_ok_and(|n| (-1..=255).contains(&n));
    if !named.contains(&protocol) && !numbered {
        return Err(Ec2Error::invalid_value(format!(
            "Invalid value '{protocol}' for IP protocol. Unknown protocol."
        )));
    }
    if matches!(protocol, "tcp" | "udp" | "6" | "17") {
        let (Some(from), Some(to)) = (p.from_port, p.to_port) else {
            return Err(Ec2Error::invalid_value(format!(
                "Invalid value 'Must specify both from and to ports with TCP/UDP.' for portRange. \
                 Protocol {protocol} requires ports."
            )));
        };
        if !(0..=65535).contains(&from) || !(0..=65535).contains(&to) || from > to {
            return Err(Ec2Error::invalid_value(format!(
                "Invalid value '{from}-{to}' for portRange. The from port must be less than or \
                 equal to the to port, both in 0-65535."
            )));
        }
    }
    if p.ip_ranges.is_empty() && p.ipv6_ranges.is_empty() && p.groups.is_empty() {
        return Err(Ec2Error::missing("IpPermissions.IpRanges or IpPermissions.Groups"));
    }
    for c in &p.ip_ranges {
        if Cidr::parse(c).is_none() {
            return Err(Ec2Error::invalid_value(format!("CIDR block {c} is malformed")));
        }
    }
    Ok(())
}

fn describe_rule(p: &Permission) -> String {
    let peer = p.ip_ranges.first().or(p.ipv6_ranges.first()).map(String::as_str).unwrap_or("");
    let proto = p.ip_protocol.to_uppercase();
    match (p.from_port, p.to_port) {
        (Some(f), Some(t)) => {
            format!("peer: {peer}, {proto}, from port: {f}, to port: {t}, ALLOW")
        }
        _ => format!("peer: {peer}, ALL, ALLOW"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::SystemEntropy;

    fn zones() -> Vec<String> {
        vec!["us-east-1a".into(), "us-east-1b".into(), "us-east-1c".into()]
    }

    fn with_default() -> Network {
        let mut n = Network::default();
        assert!(n.ensure_default(&zones(), &SystemEntropy));
        n
    }

    #[test]
    fn default_vpc_has_a_subnet_per_zone_and_a_default_group() {
        let mut n = with_default();
        let vpc = n.default_vpc().expect("default vpc").clone();
        assert_eq!(vpc.cidr_block, "172.31.0.0/16");
        let mut blocks: Vec<(String, String)> = n
            .subnets
            .values()
            .map(|s| (s.availability_zone.clone(), s.cidr_block.clone()))
            .collect();
        blocks.sort();
        assert_eq!(
            blocks,
            [
                ("us-east-1a".to_owned(), "172.31.0.0/20".to_owned()),
                ("us-east-1b".into(), "172.31.16.0/20".into()),
                ("us-east-1c".into(), "172.31.32.0/20".into())
            ]
        );
        assert!(n.groups.values().any(|g| g.vpc_id == vpc.id && g.name == "default"));
        // Stable: nothing more to make; a new zone gets its subnet.
        assert!(!n.ensure_default(&zones(), &SystemEntropy));
        let mut more = zones();
        more.push("us-east-1d".into());
        assert!(n.ensure_default(&more, &SystemEntropy));
        assert_eq!(n.subnets.len(), 4);
        // Deleted, it is not made again.
        let ids: Vec<String> = n.subnets.keys().cloned().collect();
        for id in ids {
            n.delete_subnet(&id, false).expect("delete subnet");
        }
        n.delete_vpc(&vpc.id).expect("delete default vpc");
        assert!(!n.ensure_default(&zones(), &SystemEntropy));
        assert!(n.vpcs.is_empty() && n.groups.is_empty());
    }

    #[test]
    fn vpcs_and_subnets_follow_ec2_rules() {
        let mut n = with_default();
        let e = SystemEntropy;
        assert_eq!(
            n.create_vpc("10.0.0.0/8", None, vec![], &e).unwrap_err().code,
            "InvalidVpc.Range"
        );
        assert_eq!(
            n.create_vpc("10.0.0.1/16", None, vec![], &e).unwrap_err().code,
            "InvalidParameterValue"
        );
        let vpc = n.create_vpc("10.0.0.0/16", None, vec![], &e).expect("vpc");
        let z = zones();
        let s = n.create_subnet(&vpc.id, "10.0.1.0/24", Some("us-east-1b"), &z, vec![], &e);
        let s = s.expect("subnet");
        assert_eq!(s.availability_zone, "us-east-1b");
        let clash = n.create_subnet(&vpc.id, "10.0.0.0/23", None, &z, vec![], &e).unwrap_err();
        assert_eq!(clash.code, "InvalidSubnet.Conflict");
        let outside = n.create_subnet(&vpc.id, "10.1.0.0/24", None, &z, vec![], &e).unwrap_err();
        assert_eq!(outside.code, "InvalidSubnet.Range");
        let zone = n.create_subnet(&vpc.id, "10.0.9.0/24", Some("us-east-1z"), &z, vec![], &e);
        assert!(zone.unwrap_err().message.contains("us-east-1a, us-east-1b, us-east-1c"));
        let busy = n.delete_vpc(&vpc.id).unwrap_err();
        assert_eq!(busy.code, "DependencyViolation");
        assert_eq!(n.delete_subnet(&s.id, true).unwrap_err().code, "DependencyViolation");
        n.delete_subnet(&s.id, false).expect("delete");
        assert_eq!(n.subnet(&s.id).unwrap_err().code, "InvalidSubnetID.NotFound");
        assert_eq!(n.subnet("subnet-1").unwrap_err().code, "InvalidSubnetID.Malformed");
        n.delete_vpc(&vpc.id).expect("delete vpc");
        assert_eq!(n.vpc(&vpc.id).unwrap_err().code, "InvalidVpcID.NotFound");
    }

    #[test]
    fn groups_and_rules() {
        let mut n = with_default();
        let e = SystemEntropy;
        let web = n.create_group("web", "web tier", None, vec![], &e).expect("group");
        let dup = n.create_group("web", "again", None, vec![], &e).unwrap_err();
        assert_eq!(dup.code, "InvalidGroup.Duplicate");
        assert_eq!(
            n.create_group("sg-x", "d", None, vec![], &e).unwrap_err().code,
            "InvalidParameterValue"
        );
        let open = |from, to| Permission {
            ip_protocol: "tcp".into(),
            from_port: Some(from),
            to_port: Some(to),
            ip_ranges: vec!["0.0.0.0/0".into()],
            ipv6_ranges: vec![],
            groups: vec![],
        };
        n.authorize_ingress(Some(&web.id), None, vec![open(80, 80)]).expect("rule");
        let again = n.authorize_ingress(None, Some("web"), vec![open(80, 80)]).unwrap_err();
        assert_eq!(again.code, "InvalidPermission.Duplicate");
        assert!(again.message.contains("peer: 0.0.0.0/0, TCP, from port: 80, to port: 80"));
        let bad = n.authorize_ingress(Some(&web.id), None, vec![open(90, 80)]).unwrap_err();
        assert_eq!(bad.code, "InvalidParameterValue");
        let narrow = Permission { ip_ranges: vec!["10.0.0.0/8".into()], ..open(443, 443) };
        let refused = n.authorize_ingress(Some(&web.id), None, vec![narrow]).unwrap_err();
        assert_eq!(
            (refused.code.as_str(), refused.message.as_str()),
            ("UnsupportedOperation", NOT_ENFORCED)
        );
        let default = n.group_by(None, Some("default")).expect("default").id.clone();
        assert_eq!(n.delete_group(Some(&default), None).unwrap_err().code, "CannotDelete");
        assert_eq!(n.delete_group(None, Some("web")).expect("deleted"), web.id);
    }

    #[test]
    fn awsvpc_names_must_exist_in_one_vpc() {
        let mut n = with_default();
        let e = SystemEntropy;
        let subnet = n.subnets.keys().next().cloned().expect("subnet");
        let group = n.groups.keys().next().cloned().expect("group");
        let ok = n.check_awsvpc(&AwsvpcNames {
            subnets: std::slice::from_ref(&subnet),
            security_groups: std::slice::from_ref(&group),
        });
        assert!(ok.is_ok());
        let missing = n
            .check_awsvpc(&AwsvpcNames {
                subnets: &["subnet-12345678".into()],
                security_groups: &[],
            })
            .unwrap_err();
        assert!(
            missing.message.contains("The subnet ID 'subnet-12345678' does not exist"),
            "{}",
            missing.message
        );
        let other = n.create_vpc("10.9.0.0/16", None, vec![], &e).expect("vpc");
        let foreign = n.create_group("x", "x", Some(&other.id), vec![], &e).expect("group");
        let err = n
            .check_awsvpc(&AwsvpcNames { subnets: &[subnet], security_groups: &[foreign.id] })
            .unwrap_err();
        assert!(err.message.contains("does not belong to VPC"), "{}", err.message);
    }
}
