//! The real `aws` CLI against a real `wharf server` for what deploy code asks
//! of the AWS around ECS: `aws sts get-caller-identity`, the default VPC and
//! its subnets and security group, creating and deleting a VPC, a subnet and
//! a security group with EC2's errors, and ECS refusing an
//! `awsvpcConfiguration` whose subnets or security groups do not exist.

mod support;

use serde_json::{json, Value};
use support::{Aws, Server};

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}")).to_owned()
}

#[test]
fn sts_and_the_default_vpc_answer_as_a_new_account() {
    let server = Server::start_with(&["--no-agent", "--listener-address", "off"]);
    let sts = Aws::new(&server, "sts");
    let me = sts.ok(&["get-caller-identity"]);
    let account = s(&me["Account"]);
    assert_eq!(account.len(), 12, "{me}");
    assert_eq!(me["Arn"], format!("arn:aws:iam::{account}:root"));

    let ec2 = Aws::new(&server, "ec2");
    let vpcs = ec2.ok(&["describe-vpcs", "--filters", "Name=is-default,Values=true"]);
    let vpc = &vpcs["Vpcs"][0];
    assert_eq!(vpcs["Vpcs"].as_array().map(Vec::len), Some(1), "{vpcs}");
    assert_eq!(vpc["CidrBlock"], "172.31.0.0/16");
    assert_eq!(vpc["IsDefault"], true);
    assert_eq!(vpc["State"], "available");
    assert_eq!(vpc["OwnerId"], account.as_str());
    let vpc_id = s(&vpc["VpcId"]);

    let subnets = ec2.ok(&[
        "describe-subnets",
        "--filters",
        &format!("Name=vpc-id,Values={vpc_id}"),
        "Name=default-for-az,Values=true",
    ]);
    let mut zones: Vec<(String, String, String)> = subnets["Subnets"]
        .as_array()
        .expect("Subnets")
        .iter()
        .map(|n| (s(&n["AvailabilityZone"]), s(&n["AvailabilityZoneId"]), s(&n["CidrBlock"])))
        .collect();
    zones.sort();
    assert_eq!(
        zones,
        [
            ("us-east-1a".into(), "use1-az1".into(), "172.31.0.0/20".into()),
            ("us-east-1b".into(), "use1-az2".into(), "172.31.16.0/20".into()),
            ("us-east-1c".into(), "use1-az3".into(), "172.31.32.0/20".into()),
        ]
    );
    assert_eq!(subnets["Subnets"][0]["MapPublicIpOnLaunch"], true);
    assert_eq!(subnets["Subnets"][0]["AvailableIpAddressCount"], 4091);

    let azs = ec2.ok(&["describe-availability-zones"]);
    let names: Vec<String> = azs["AvailabilityZones"]
        .as_array()
        .expect("zones")
        .iter()
        .map(|z| s(&z["ZoneName"]))
        .collect();
    assert_eq!(names, ["us-east-1a", "us-east-1b", "us-east-1c"]);
    assert_eq!(azs["AvailabilityZones"][0]["State"], "available");
    assert_eq!(azs["AvailabilityZones"][0]["RegionName"], "us-east-1");

    let attrs = ec2.ok(&["describe-account-attributes", "--attribute-names", "default-vpc"]);
    assert_eq!(
        attrs["AccountAttributes"][0]["AttributeValues"][0]["AttributeValue"],
        vpc_id.as_str()
    );

    let groups = ec2.ok(&["describe-security-groups", "--group-names", "default"]);
    let default = &groups["SecurityGroups"][0];
    assert_eq!(default["VpcId"], vpc_id.as_str());
    assert_eq!(default["Description"], "default VPC security group");
    assert_eq!(default["IpPermissionsEgress"][0]["IpProtocol"], "-1");
    assert_eq!(default["IpPermissionsEgress"][0]["IpRanges"][0]["CidrIp"], "0.0.0.0/0");
    assert_eq!(default["IpPermissions"][0]["UserIdGroupPairs"][0]["GroupId"], default["GroupId"]);

    // Another region has its own default VPC.
    let other = ec2.ok(&["describe-vpcs", "--region", "eu-west-1"]);
    assert_ne!(other["Vpcs"][0]["VpcId"], vpc_id.as_str());
    let other_zones = ec2.ok(&["describe-availability-zones", "--region", "eu-west-1"]);
    assert_eq!(other_zones["AvailabilityZones"][0]["ZoneId"], "euw1-az1");
}

#[test]
fn vpcs_subnets_and_security_groups_are_made_and_refused_as_ec2_does() {
    let server = Server::start_with(&["--no-agent", "--listener-address", "off"]);
    let ec2 = Aws::new(&server, "ec2");

    let bad = ec2.fails(&["create-vpc", "--cidr-block", "10.0.0.0/8"]);
    assert!(
        bad.contains("(InvalidVpc.Range)") && bad.contains("The CIDR '10.0.0.0/8' is invalid."),
        "{bad}"
    );
    let vpc = ec2.ok(&[
        "create-vpc",
        "--cidr-block",
        "10.0.0.0/16",
        "--tag-specifications",
        "ResourceType=vpc,Tags=[{Key=Name,Value=app}]",
    ]);
    let vpc_id = s(&vpc["Vpc"]["VpcId"]);
    assert_eq!(vpc["Vpc"]["IsDefault"], false);
    assert_eq!(vpc["Vpc"]["Tags"], json!([{"Key": "Name", "Value": "app"}]));
    let tagged = ec2.ok(&["describe-vpcs", "--filters", "Name=tag:Name,Values=ap*"]);
    assert_eq!(tagged["Vpcs"].as_array().map(Vec::len), Some(1));
    assert_eq!(tagged["Vpcs"][0]["VpcId"], vpc_id.as_str());

    let subnet = ec2.ok(&[
        "create-subnet",
        "--vpc-id",
        &vpc_id,
        "--cidr-block",
        "10.0.1.0/24",
        "--availability-zone",
        "us-east-1b",
    ]);
    let subnet_id = s(&subnet["Subnet"]["SubnetId"]);
    assert_eq!(subnet["Subnet"]["AvailabilityZone"], "us-east-1b");
    assert_eq!(subnet["Subnet"]["DefaultForAz"], false);
    let clash = ec2.fails(&["create-subnet", "--vpc-id", &vpc_id, "--cidr-block", "10.0.0.0/23"]);
    assert!(clash.contains("(InvalidSubnet.Conflict)"), "{clash}");
    let nowhere =
        ec2.fails(&["create-subnet", "--vpc-id", "vpc-12345678", "--cidr-block", "10.0.2.0/24"]);
    assert!(
        nowhere.contains("(InvalidVpcID.NotFound)") && nowhere.contains("'vpc-12345678'"),
        "{nowhere}"
    );

    let group = ec2.ok(&[
        "create-security-group",
        "--group-name",
        "web",
        "--description",
        "web tier",
        "--vpc-id",
        &vpc_id,
    ]);
    let group_id = s(&group["GroupId"]);
    ec2.ok(&[
        "authorize-security-group-ingress",
        "--group-id",
        &group_id,
        "--protocol",
        "tcp",
        "--port",
        "80",
        "--cidr",
        "0.0.0.0/0",
    ]);
    let again = ec2.fails(&[
        "authorize-security-group-ingress",
        "--group-id",
        &group_id,
        "--ip-permissions",
        "IpProtocol=tcp,FromPort=80,ToPort=80,IpRanges=[{CidrIp=0.0.0.0/0}]",
    ]);
    assert!(again.contains("(InvalidPermission.Duplicate)"), "{again}");
    let narrow = ec2.fails(&[
        "authorize-security-group-ingress",
        "--group-id",
        &group_id,
        "--protocol",
        "tcp",
        "--port",
        "5432",
        "--cidr",
        "10.0.0.0/16",
    ]);
    assert!(
        narrow.contains("(UnsupportedOperation)") && narrow.contains("does not filter traffic"),
        "{narrow}"
    );
    let described = ec2.ok(&["describe-security-groups", "--group-ids", &group_id]);
    let rules = &described["SecurityGroups"][0]["IpPermissions"];
    assert_eq!(rules.as_array().map(Vec::len), Some(1), "{described}");
    assert_eq!(rules[0]["FromPort"], 80);
    assert_eq!(rules[0]["IpRanges"][0]["CidrIp"], "0.0.0.0/0");

    // ECS refuses names that do not exist, and subnets and groups of two VPCs.
    let ecs = Aws::new(&server, "ecs");
    ecs.ok(&["create-cluster"]);
    ecs.ok(&[
        "register-task-definition",
        "--family",
        "vpc",
        "--network-mode",
        "awsvpc",
        "--requires-compatibilities",
        "FARGATE",
        "--cpu",
        "256",
        "--memory",
        "512",
        "--container-definitions",
        r#"[{"name":"app","image":"busybox","essential":true}]"#,
    ]);
    let create = |net: &str| {
        ecs.fails(&[
            "create-service",
            "--service-name",
            "s",
            "--task-definition",
            "vpc",
            "--desired-count",
            "0",
            "--launch-type",
            "FARGATE",
            "--network-configuration",
            net,
        ])
    };
    let missing_group = create(&format!(
        "awsvpcConfiguration={{subnets=[{subnet_id}],securityGroups=[sg-12345678]}}"
    ));
    assert!(
        missing_group.contains("InvalidParameterException")
            && missing_group
                .contains("Error retrieving security group information for [sg-12345678]"),
        "{missing_group}"
    );
    let default_group = ec2.ok(&["describe-security-groups", "--group-names", "default"]);
    let default_group = s(&default_group["SecurityGroups"][0]["GroupId"]);
    let mixed = create(&format!(
        "awsvpcConfiguration={{subnets=[{subnet_id}],securityGroups=[{default_group}]}}"
    ));
    assert!(mixed.contains("does not belong to VPC"), "{mixed}");
    let made = ecs.ok(&[
        "create-service",
        "--service-name",
        "s",
        "--task-definition",
        "vpc",
        "--desired-count",
        "0",
        "--launch-type",
        "FARGATE",
        "--network-configuration",
        &format!("awsvpcConfiguration={{subnets=[{subnet_id}],securityGroups=[{group_id}]}}"),
    ]);
    assert_eq!(made["service"]["status"], "ACTIVE");

    // Deletion in dependency order, with EC2's refusals on the way.
    let busy = ec2.fails(&["delete-vpc", "--vpc-id", &vpc_id]);
    assert!(busy.contains("(DependencyViolation)"), "{busy}");
    let vpc_default_group = ec2.ok(&[
        "describe-security-groups",
        "--filters",
        &format!("Name=vpc-id,Values={vpc_id}"),
        "Name=group-name,Values=default",
    ]);
    let vpc_default_group = s(&vpc_default_group["SecurityGroups"][0]["GroupId"]);
    let keep = ec2.fails(&["delete-security-group", "--group-id", &vpc_default_group]);
    assert!(keep.contains("(CannotDelete)"), "{keep}");
    ec2.ok(&["delete-security-group", "--group-id", &group_id]);
    ec2.ok(&["delete-subnet", "--subnet-id", &subnet_id]);
    ec2.ok(&["delete-vpc", "--vpc-id", &vpc_id]);
    let gone = ec2.fails(&["describe-vpcs", "--vpc-ids", &vpc_id]);
    assert!(gone.contains("(InvalidVpcID.NotFound)"), "{gone}");
    let dry = ec2.fails(&["create-vpc", "--cidr-block", "10.1.0.0/16", "--dry-run"]);
    assert!(dry.contains("(DryRunOperation)"), "{dry}");
    assert_eq!(ec2.ok(&["describe-vpcs"])["Vpcs"].as_array().map(Vec::len), Some(1));
}
