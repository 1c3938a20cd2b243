//! Amazon EC2, the networking subset (EC2's Query protocol, see [`wire`]):
//! VPCs, subnets and security groups as `wharf_model::ec2::network` keeps
//! them, Availability Zones, account attributes, and the network interfaces
//! of `awsvpc` tasks. Each region has a default VPC, made on first use.

mod wire;

use wharf_model::ec2::interface::Interface;
use wharf_model::ec2::network::{Network, Permission, SecurityGroup, Subnet, Vpc};
use wharf_model::ec2::{zones, Ec2Error};
use wharf_ops::network;
use wharf_ops::OpsError;

pub(crate) use wire::error_document;
use wire::{matches, page, Params, Xml};

use crate::context::Ctx;

/// The operations Wharf serves.
pub const OPERATIONS: &[&str] = &[
    "DescribeVpcs",
    "CreateVpc",
    "DeleteVpc",
    "DescribeSubnets",
    "CreateSubnet",
    "DeleteSubnet",
    "DescribeSecurityGroups",
    "CreateSecurityGroup",
    "DeleteSecurityGroup",
    "AuthorizeSecurityGroupIngress",
    "DescribeAvailabilityZones",
    "DescribeAccountAttributes",
    "DescribeNetworkInterfaces",
];

fn ops_error(e: OpsError) -> Ec2Error {
    tracing::error!(error = %e, "an EC2 read failed");
    Ec2Error::server("Wharf could not read its state.")
}

/// Runs one EC2 operation on a form's parameters: the XML answer, or the
/// error.
pub async fn handle(
    ctx: &Ctx,
    action: &str,
    pairs: Vec<(String, String)>,
) -> Result<String, Ec2Error> {
    let p = Params::new(pairs);
    let mut x = Xml::new(action, &ctx.request_id);
    match action {
        "DescribeVpcs" => describe_vpcs(ctx, &p, &mut x).await?,
        "CreateVpc" => create_vpc(ctx, &p, &mut x).await?,
        "DeleteVpc" => delete_vpc(ctx, &p, &mut x).await?,
        "DescribeSubnets" => describe_subnets(ctx, &p, &mut x).await?,
        "CreateSubnet" => create_subnet(ctx, &p, &mut x).await?,
        "DeleteSubnet" => delete_subnet(ctx, &p, &mut x).await?,
        "DescribeSecurityGroups" => describe_groups(ctx, &p, &mut x).await?,
        "CreateSecurityGroup" => create_group(ctx, &p, &mut x).await?,
        "DeleteSecurityGroup" => delete_group(ctx, &p, &mut x).await?,
        "AuthorizeSecurityGroupIngress" => authorize_ingress(ctx, &p, &mut x).await?,
        "DescribeAvailabilityZones" => describe_zones(ctx, &p, &mut x).await?,
        "DescribeAccountAttributes" => describe_account_attributes(ctx, &p, &mut x).await?,
        "DescribeNetworkInterfaces" => describe_interfaces(ctx, &p, &mut x).await?,
        _ => {
            return Err(Ec2Error::new(
                "InvalidAction",
                format!("The action {action} is not valid for this web service."),
            ))
        }
    }
    Ok(x.finish())
}

async fn zone_names(ctx: &Ctx) -> Result<Vec<String>, Ec2Error> {
    network::zones(ctx.ops()).await.map_err(ops_error)
}

async fn current(ctx: &Ctx) -> Result<Network, Ec2Error> {
    let zones = zone_names(ctx).await?;
    network::read(ctx.ops(), &zones).await
}

fn bool_str(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}

fn write_vpc(x: &mut Xml, owner: &str, v: &Vpc) {
    x.open("item")
        .leaf("vpcId", &v.id)
        .leaf("ownerId", owner)
        .leaf("state", "available")
        .leaf("cidrBlock", &v.cidr_block)
        .open("cidrBlockAssociationSet")
        .open("item")
        .leaf("cidrBlock", &v.cidr_block)
        .leaf("associationId", &v.cidr_association_id)
        .open("cidrBlockState")
        .leaf("state", "associated")
        .close("cidrBlockState")
        .close("item")
        .close("cidrBlockAssociationSet")
        .leaf("dhcpOptionsId", "default")
        .leaf("instanceTenancy", &v.instance_tenancy)
        .leaf("isDefault", bool_str(v.is_default))
        .tags(&v.tags)
        .close("item");
}

async fn describe_vpcs(ctx: &Ctx, p: &Params, x: &mut Xml) -> Result<(), Ec2Error> {
    let n = current(ctx).await?;
    let ids = p.list("VpcId");
    for id in &ids {
        n.vpc(id)?;
    }
    let filters = p.filters("Filter");
    let owner = ctx.state.ops.account_id.to_string();
    let mut found = Vec::new();
    for v in n.vpcs.values().filter(|v| ids.is_empty() || ids.contains(&v.id)) {
        let keep = matches(&filters, &v.tags, |name| {
            Some(match name {
                "vpc-id" => vec![v.id.clone()],
                "cidr" | "cidr-block-association.cidr-block" | "cidrBlock" => {
                    vec![v.cidr_block.clone()]
                }
                "is-default" | "isDefault" => vec![bool_str(v.is_default).into()],
                "state" => vec!["available".into()],
                "owner-id" => vec![owner.clone()],
                "dhcp-options-id" => vec!["default".into()],
                _ => return None,
            })
        })?;
        if keep {
            found.push(v);
        }
    }
    let (found, next) = page(p, found, |v| &v.id)?;
    x.open("vpcSet");
    for v in found {
        write_vpc(x, &owner, v);
    }
    x.close("vpcSet").opt("nextToken", next.as_deref());
    Ok(())
}

async fn create_vpc(ctx: &Ctx, p: &Params, x: &mut Xml) -> Result<(), Ec2Error> {
    let cidr = p.required("CidrBlock")?.to_owned();
    let tenancy = p.get("InstanceTenancy").map(str::to_owned);
    let tags = p.tags_for("vpc")?;
    let dry = p.dry_run()?;
    let zones = zone_names(ctx).await?;
    let entropy = ctx.state.ops.entropy.clone();
    let vpc = network::change(ctx.ops(), &zones, move |n| {
        let vpc = n.create_vpc(&cidr, tenancy.as_deref(), tags.clone(), &*entropy)?;
        if dry {
            return Err(Ec2Error::dry_run());
        }
        Ok(vpc)
    })
    .await?;
    let owner = ctx.state.ops.account_id.to_string();
    x.out_item("vpc", |x| write_vpc(x, &owner, &vpc));
    Ok(())
}

async fn delete_vpc(ctx: &Ctx, p: &Params, x: &mut Xml) -> Result<(), Ec2Error> {
    let id = p.required("VpcId")?.to_owned();
    let dry = p.dry_run()?;
    let zones = zone_names(ctx).await?;
    network::change(ctx.ops(), &zones, move |n| {
        n.delete_vpc(&id)?;
        if dry {
            return Err(Ec2Error::dry_run());
        }
        Ok(())
    })
    .await?;
    x.leaf("return", "true");
    Ok(())
}

fn write_subnet(x: &mut Xml, ctx: &Ctx, s: &Subnet) {
    let owner = ctx.state.ops.account_id.to_string();
    let arn = format!("arn:aws:ec2:{}:{owner}:subnet/{}", ctx.region, s.id);
    let available = wharf_model::ec2::cidr::Cidr::parse(&s.cidr_block)
        .map(|c| c.size().saturating_sub(5))
        .unwrap_or(0);
    x.open("item")
        .leaf("subnetId", &s.id)
        .leaf("subnetArn", &arn)
        .leaf("state", "available")
        .leaf("ownerId", &owner)
        .leaf("vpcId", &s.vpc_id)
        .leaf("cidrBlock", &s.cidr_block)
        .open("ipv6CidrBlockAssociationSet")
        .close("ipv6CidrBlockAssociationSet")
        .leaf("availableIpAddressCount", &available.to_string())
        .leaf("availabilityZone", &s.availability_zone)
        .leaf("availabilityZoneId", &zones::zone_id(&s.availability_zone))
        .leaf("defaultForAz", bool_str(s.default_for_az))
        .leaf("mapPublicIpOnLaunch", bool_str(s.map_public_ip_on_launch))
        .leaf("assignIpv6AddressOnCreation", "false")
        .leaf("ipv6Native", "false")
        .tags(&s.tags)
        .close("item");
}

async fn describe_subnets(ctx: &Ctx, p: &Params, x: &mut Xml) -> Result<(), Ec2Error> {
    let n = current(ctx).await?;
    let ids = p.list("SubnetId");
    for id in &ids {
        n.subnet(id)?;
    }
    let filters = p.filters("Filter");
    let mut found = Vec::new();
    for s in n.subnets.values().filter(|s| ids.is_empty() || ids.contains(&s.id)) {
        let keep = matches(&filters, &s.tags, |name| {
            Some(match name {
                "subnet-id" => vec![s.id.clone()],
                "vpc-id" | "vpcId" => vec![s.vpc_id.clone()],
                "availability-zone" | "availabilityZone" => vec![s.availability_zone.clone()],
                "availability-zone-id" => vec![zones::zone_id(&s.availability_zone)],
                "cidr-block" | "cidr" | "cidrBlock" => vec![s.cidr_block.clone()],
                "default-for-az" | "defaultForAz" => vec![bool_str(s.default_for_az).into()],
                "map-public-ip-on-launch" => vec![bool_str(s.map_public_ip_on_launch).into()],
                "state" => vec!["available".into()],
                "owner-id" => vec![ctx.state.ops.account_id.to_string()],
                _ => return None,
            })
        })?;
        if keep {
            found.push(s);
        }
    }
    let (found, next) = page(p, found, |s| &s.id)?;
    x.open("subnetSet");
    for s in found {
        write_subnet(x, ctx, s);
    }
    x.close("subnetSet").opt("nextToken", next.as_deref());
    Ok(())
}

async fn create_subnet(ctx: &Ctx, p: &Params, x: &mut Xml) -> Result<(), Ec2Error> {
    let vpc = p.required("VpcId")?.to_owned();
    let cidr = p.required("CidrBlock")?.to_owned();
    let zones = zone_names(ctx).await?;
    let zone = match (p.get("AvailabilityZone"), p.get("AvailabilityZoneId")) {
        (Some(z), _) => Some(z.to_owned()),
        (None, Some(id)) => {
            Some(zones.iter().find(|z| zones::zone_id(z) == id).cloned().ok_or_else(|| {
                Ec2Error::invalid_value(format!(
                    "Value ({id}) for parameter availabilityZoneId is invalid."
                ))
            })?)
        }
        (None, None) => None,
    };
    let tags = p.tags_for("subnet")?;
    let dry = p.dry_run()?;
    let entropy = ctx.state.ops.entropy.clone();
    let zones_in = zones.clone();
    let subnet = network::change(ctx.ops(), &zones, move |n| {
        let s =
            n.create_subnet(&vpc, &cidr, zone.as_deref(), &zones_in, tags.clone(), &*entropy)?;
        if dry {
            return Err(Ec2Error::dry_run());
        }
        Ok(s)
    })
    .await?;
    x.out_item("subnet", |x| write_subnet(x, ctx, &subnet));
    Ok(())
}

async fn delete_subnet(ctx: &Ctx, p: &Params, x: &mut Xml) -> Result<(), Ec2Error> {
    let id = p.required("SubnetId")?.to_owned();
    let dry = p.dry_run()?;
    let interfaces = network::interfaces(ctx.ops()).await.map_err(ops_error)?;
    let in_use = interfaces.iter().any(|i| i.subnet_id == id);
    let zones = zone_names(ctx).await?;
    network::change(ctx.ops(), &zones, move |n| {
        n.delete_subnet(&id, in_use)?;
        if dry {
            return Err(Ec2Error::dry_run());
        }
        Ok(())
    })
    .await?;
    x.leaf("return", "true");
    Ok(())
}

fn write_permissions(x: &mut Xml, set: &str, owner: &str, rules: &[Permission]) {
    x.open(set);
    for r in rules {
        x.open("item").leaf("ipProtocol", &r.ip_protocol);
        if let Some(f) = r.from_port {
            x.leaf("fromPort", &f.to_string());
        }
        if let Some(t) = r.to_port {
            x.leaf("toPort", &t.to_string());
        }
        x.open("groups");
        for g in &r.groups {
            x.open("item").leaf("userId", owner).leaf("groupId", g).close("item");
        }
        x.close("groups").open("ipRanges");
        for c in &r.ip_ranges {
            x.open("item").leaf("cidrIp", c).close("item");
        }
        x.close("ipRanges").open("ipv6Ranges");
        for c in &r.ipv6_ranges {
            x.open("item").leaf("cidrIpv6", c).close("item");
        }
        x.close("ipv6Ranges").open("prefixListIds").close("prefixListIds").close("item");
    }
    x.close(set);
}

fn write_group(x: &mut Xml, ctx: &Ctx, g: &SecurityGroup) {
    let owner = ctx.state.ops.account_id.to_string();
    x.open("item")
        .leaf("ownerId", &owner)
        .leaf("groupId", &g.id)
        .leaf("groupName", &g.name)
        .leaf("groupDescription", &g.description)
        .leaf("vpcId", &g.vpc_id)
        .leaf(
            "securityGroupArn",
            &format!("arn:aws:ec2:{}:{owner}:security-group/{}", ctx.region, g.id),
        );
    write_permissions(x, "ipPermissions", &owner, &g.ingress);
    write_permissions(x, "ipPermissionsEgress", &owner, &g.egress);
    x.tags(&g.tags).close("item");
}

async fn describe_groups(ctx: &Ctx, p: &Params, x: &mut Xml) -> Result<(), Ec2Error> {
    let n = current(ctx).await?;
    let mut ids = p.list("GroupId");
    for id in &ids {
        n.group(id)?;
    }
    for name in p.list("GroupName") {
        ids.push(n.group_by(None, Some(&name))?.id.clone());
    }
    let filters = p.filters("Filter");
    let mut found = Vec::new();
    for g in n.groups.values().filter(|g| ids.is_empty() || ids.contains(&g.id)) {
        let keep = matches(&filters, &g.tags, |name| {
            Some(match name {
                "group-id" => vec![g.id.clone()],
                "group-name" => vec![g.name.clone()],
                "description" => vec![g.description.clone()],
                "vpc-id" => vec![g.vpc_id.clone()],
                "owner-id" => vec![ctx.state.ops.account_id.to_string()],
                "ip-permission.protocol" => {
                    g.ingress.iter().map(|r| r.ip_protocol.clone()).collect()
                }
                "ip-permission.cidr" => {
                    g.ingress.iter().flat_map(|r| r.ip_ranges.clone()).collect()
                }
                "ip-permission.group-id" => {
                    g.ingress.iter().flat_map(|r| r.groups.clone()).collect()
                }
                _ => return None,
            })
        })?;
        if keep {
            found.push(g);
        }
    }
    let (found, next) = page(p, found, |g| &g.id)?;
    x.open("securityGroupInfo");
    for g in found {
        write_group(x, ctx, g);
    }
    x.close("securityGroupInfo").opt("nextToken", next.as_deref());
    Ok(())
}

async fn create_group(ctx: &Ctx, p: &Params, x: &mut Xml) -> Result<(), Ec2Error> {
    let name = p.required("GroupName")?.to_owned();
    let description = p.required("GroupDescription")?.to_owned();
    let vpc = p.get("VpcId").map(str::to_owned);
    let tags = p.tags_for("security-group")?;
    let dry = p.dry_run()?;
    let zones = zone_names(ctx).await?;
    let entropy = ctx.state.ops.entropy.clone();
    let group = network::change(ctx.ops(), &zones, move |n| {
        let g = n.create_group(&name, &description, vpc.as_deref(), tags.clone(), &*entropy)?;
        if dry {
            return Err(Ec2Error::dry_run());
        }
        Ok(g)
    })
    .await?;
    let owner = ctx.state.ops.account_id.to_string();
    x.leaf("return", "true").leaf("groupId", &group.id).tags(&group.tags).leaf(
        "securityGroupArn",
        &format!("arn:aws:ec2:{}:{owner}:security-group/{}", ctx.region, group.id),
    );
    Ok(())
}

async fn delete_group(ctx: &Ctx, p: &Params, x: &mut Xml) -> Result<(), Ec2Error> {
    let id = p.get("GroupId").map(str::to_owned);
    let name = p.get("GroupName").map(str::to_owned);
    let dry = p.dry_run()?;
    let zones = zone_names(ctx).await?;
    let deleted = network::change(ctx.ops(), &zones, move |n| {
        let id = n.delete_group(id.as_deref(), name.as_deref())?;
        if dry {
            return Err(Ec2Error::dry_run());
        }
        Ok(id)
    })
    .await?;
    x.leaf("return", "true").leaf("groupId", &deleted);
    Ok(())
}

/// The rules of an AuthorizeSecurityGroupIngress: `IpPermissions.N`, or
/// the flat `IpProtocol`/`FromPort`/`ToPort`/`CidrIp` form.
fn permissions(p: &Params) -> Result<Vec<Permission>, Ec2Error> {
    let mut out = Vec::new();
    for e in p.elements("IpPermissions") {
        out.push(Permission {
            ip_protocol: e.required("IpProtocol")?.to_lowercase(),
            from_port: e.int("FromPort")?,
            to_port: e.int("ToPort")?,
            ip_ranges: e
                .elements("IpRanges")
                .iter()
                .filter_map(|r| r.get("CidrIp").map(str::to_owned))
                .collect(),
            ipv6_ranges: e
                .elements("Ipv6Ranges")
                .iter()
                .filter_map(|r| r.get("CidrIpv6").map(str::to_owned))
                .collect(),
            groups: e
                .elements("Groups")
                .iter()
                .filter_map(|g| g.get("GroupId").map(str::to_owned))
                .collect(),
        });
    }
    if out.is_empty() {
        if let Some(protocol) = p.get("IpProtocol") {
            out.push(Permission {
                ip_protocol: protocol.to_lowercase(),
                from_port: p.int("FromPort")?,
                to_port: p.int("ToPort")?,
                ip_ranges: p.get("CidrIp").map(str::to_owned).into_iter().collect(),
                ipv6_ranges: vec![],
                groups: vec![],
            });
        }
    }
    for r in &mut out {
        if r.ip_protocol == "all" {
            r.ip_protocol = "-1".into();
        }
        if r.ip_protocol == "-1" {
            r.from_port = None;
            r.to_port = None;
        }
    }
    Ok(out)
}

async fn authorize_ingress(ctx: &Ctx, p: &Params, x: &mut Xml) -> Result<(), Ec2Error> {
    let id = p.get("GroupId").map(str::to_owned);
    let name = p.get("GroupName").map(str::to_owned);
    let rules = permissions(p)?;
    let dry = p.dry_run()?;
    let zones = zone_names(ctx).await?;
    let added = rules.clone();
    let group_id = network::change(ctx.ops(), &zones, move |n| {
        let g = n.authorize_ingress(id.as_deref(), name.as_deref(), rules.clone())?;
        if dry {
            return Err(Ec2Error::dry_run());
        }
        Ok(g)
    })
    .await?;
    let owner = ctx.state.ops.account_id.to_string();
    x.leaf("return", "true").open("securityGroupRuleSet");
    for r in &added {
        for cidr in &r.ip_ranges {
            let rule_id = wharf_model::ec2::new_id("sgr", &*ctx.state.ops.entropy);
            x.open("item")
                .leaf("securityGroupRuleId", &rule_id)
                .leaf("groupId", &group_id)
                .leaf("groupOwnerId", &owner)
                .leaf("isEgress", "false")
                .leaf("ipProtocol", &r.ip_protocol)
                .leaf("fromPort", &r.from_port.unwrap_or(-1).to_string())
                .leaf("toPort", &r.to_port.unwrap_or(-1).to_string())
                .leaf("cidrIpv4", cidr)
                .close("item");
        }
    }
    x.close("securityGroupRuleSet");
    Ok(())
}

async fn describe_zones(ctx: &Ctx, p: &Params, x: &mut Xml) -> Result<(), Ec2Error> {
    let all = zone_names(ctx).await?;
    let names = p.list("ZoneName");
    let ids = p.list("ZoneId");
    for n in &names {
        if !all.contains(n) {
            return Err(Ec2Error::invalid_value(format!("The zone '{n}' does not exist.")));
        }
    }
    for id in &ids {
        if !all.iter().any(|z| &zones::zone_id(z) == id) {
            return Err(Ec2Error::invalid_value(format!("The zone ID '{id}' does not exist.")));
        }
    }
    let filters = p.filters("Filter");
    x.open("availabilityZoneInfo");
    for z in &all {
        let id = zones::zone_id(z);
        let named = (names.is_empty() && ids.is_empty()) || names.contains(z) || ids.contains(&id);
        let keep = named
            && matches(&filters, &[], |name| {
                Some(match name {
                    "zone-name" => vec![z.clone()],
                    "zone-id" => vec![id.clone()],
                    "state" => vec!["available".into()],
                    "region-name" | "group-name" | "network-border-group" => {
                        vec![ctx.region.clone()]
                    }
                    "zone-type" => vec!["availability-zone".into()],
                    "opt-in-status" => vec!["opt-in-not-required".into()],
                    _ => return None,
                })
            })?;
        if keep {
            x.open("item")
                .leaf("optInStatus", "opt-in-not-required")
                .open("messageSet")
                .close("messageSet")
                .leaf("regionName", &ctx.region)
                .leaf("zoneName", z)
                .leaf("zoneId", &id)
                .leaf("groupName", &ctx.region)
                .leaf("networkBorderGroup", &ctx.region)
                .leaf("zoneType", "availability-zone")
                .leaf("zoneState", "available")
                .close("item");
        }
    }
    x.close("availabilityZoneInfo");
    Ok(())
}

async fn describe_account_attributes(ctx: &Ctx, p: &Params, x: &mut Xml) -> Result<(), Ec2Error> {
    let n = current(ctx).await?;
    let default_vpc = n.default_vpc().map(|v| v.id.clone()).unwrap_or_else(|| "none".into());
    let all: [(&str, &str); 6] = [
        ("supported-platforms", "VPC"),
        ("vpc-max-security-groups-per-interface", "5"),
        ("max-elastic-ips", "5"),
        ("max-instances", "20"),
        ("vpc-max-elastic-ips", "5"),
        ("default-vpc", &default_vpc),
    ];
    let wanted = p.list("AttributeName");
    for w in &wanted {
        if !all.iter().any(|(name, _)| name == w) {
            return Err(Ec2Error::invalid_value(format!(
                "Value ({w}) for parameter attributeName is invalid. Unknown attribute."
            )));
        }
    }
    x.open("accountAttributeSet");
    for (name, value) in
        all.iter().filter(|(n, _)| wanted.is_empty() || wanted.iter().any(|w| w == n))
    {
        x.open("item")
            .leaf("attributeName", name)
            .open("attributeValueSet")
            .open("item")
            .leaf("attributeValue", value)
            .close("item")
            .close("attributeValueSet")
            .close("item");
    }
    x.close("accountAttributeSet");
    Ok(())
}

fn write_interface(x: &mut Xml, ctx: &Ctx, n: &Network, i: &Interface) {
    let owner = ctx.state.ops.account_id.to_string();
    let vpc = n.subnets.get(&i.subnet_id).map(|s| s.vpc_id.as_str()).unwrap_or("");
    let zone = match (i.availability_zone.as_str(), n.subnets.get(&i.subnet_id)) {
        ("", Some(s)) => s.availability_zone.as_str(),
        (z, _) => z,
    };
    let description = format!("arn:aws:ecs:{}:{owner}:attachment/{}", ctx.region, i.attachment_id);
    x.open("item")
        .leaf("networkInterfaceId", &i.id)
        .leaf("subnetId", &i.subnet_id)
        .leaf("vpcId", vpc)
        .leaf("availabilityZone", zone)
        .leaf("availabilityZoneId", &zones::zone_id(zone))
        .leaf("description", &description)
        .leaf("ownerId", &owner)
        .leaf("requesterManaged", "true")
        .leaf("status", "in-use")
        .leaf("macAddress", &i.mac_address)
        .leaf("privateIpAddress", &i.private_ip)
        .opt("privateDnsName", Some(i.private_dns_name.as_str()).filter(|s| !s.is_empty()))
        .leaf("sourceDestCheck", "true")
        .leaf("interfaceType", "interface")
        .open("groupSet")
        .close("groupSet")
        .open("privateIpAddressesSet")
        .open("item")
        .leaf("privateIpAddress", &i.private_ip)
        .opt("privateDnsName", Some(i.private_dns_name.as_str()).filter(|s| !s.is_empty()))
        .leaf("primary", "true")
        .close("item")
        .close("privateIpAddressesSet")
        .open("ipv6AddressesSet")
        .close("ipv6AddressesSet")
        .tags(&[])
        .close("item");
}

async fn describe_interfaces(ctx: &Ctx, p: &Params, x: &mut Xml) -> Result<(), Ec2Error> {
    let n = current(ctx).await?;
    let all = network::interfaces(ctx.ops()).await.map_err(ops_error)?;
    let ids = p.list("NetworkInterfaceId");
    for id in &ids {
        if !all.iter().any(|i| &i.id == id) {
            return Err(Ec2Error::not_found(
                "InvalidNetworkInterfaceID.NotFound",
                "networkInterface",
                id,
            ));
        }
    }
    let filters = p.filters("Filter");
    let mut found = Vec::new();
    for i in all.iter().filter(|i| ids.is_empty() || ids.contains(&i.id)) {
        let vpc = n.subnets.get(&i.subnet_id).map(|s| s.vpc_id.clone()).unwrap_or_default();
        let keep = matches(&filters, &[], |name| {
            Some(match name {
                "network-interface-id" => vec![i.id.clone()],
                "subnet-id" => vec![i.subnet_id.clone()],
                "vpc-id" => vec![vpc.clone()],
                "private-ip-address" | "addresses.private-ip-address" => {
                    vec![i.private_ip.clone()]
                }
                "availability-zone" => vec![i.availability_zone.clone()],
                "status" => vec!["in-use".into()],
                "mac-address" => vec![i.mac_address.clone()],
                "description" => vec![format!(
                    "arn:aws:ecs:{}:{}:attachment/{}",
                    ctx.region, ctx.state.ops.account_id, i.attachment_id
                )],
                "requester-managed" => vec!["true".into()],
                "interface-type" => vec!["interface".into()],
                _ => return None,
            })
        })?;
        if keep {
            found.push(i);
        }
    }
    let (found, next) = page(p, found, |i| &i.id)?;
    x.open("networkInterfaceSet");
    for i in found {
        write_interface(x, ctx, &n, i);
    }
    x.close("networkInterfaceSet").opt("nextToken", next.as_deref());
    Ok(())
}
