//! The real `aws` CLI (`aws elbv2`) against a real `wharf server`: the seed flow of
//! an Application Load Balancer (target group, load balancer, listener, rule,
//! targets, health, draining, priorities), describes by names and ARNs, errors
//! as the CLI prints them, and deletion in dependency order.
//!
//! The CLI is required: when it is missing the tests fail saying how to install it.

mod support;

use serde_json::Value;
use support::{Aws, Server};

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}")).to_owned()
}

fn states(health: &Value) -> Vec<String> {
    health["TargetHealthDescriptions"]
        .as_array()
        .expect("TargetHealthDescriptions")
        .iter()
        .map(|d| s(&d["TargetHealth"]["State"]))
        .collect()
}

#[test]
fn elbv2_seed_flow() {
    // The API alone: no data plane binds the listener ports this test names.
    let server = Server::start_with(&["--no-agent", "--listener-address", "off"]);
    let elb = Aws::new(&server, "elbv2");

    let tg = elb.ok(&[
        "create-target-group",
        "--name",
        "web",
        "--protocol",
        "HTTP",
        "--port",
        "80",
        "--target-type",
        "ip",
        "--vpc-id",
        "vpc-12345678",
    ]);
    let tg = &tg["TargetGroups"][0];
    assert_eq!(tg["HealthCheckPath"], "/");
    assert_eq!(tg["HealthCheckIntervalSeconds"], 30);
    assert_eq!(tg["Matcher"]["HttpCode"], "200");
    assert_eq!(tg["TargetType"], "ip");
    let tg_arn = s(&tg["TargetGroupArn"]);

    let lb = elb.ok(&[
        "create-load-balancer",
        "--name",
        "front",
        "--subnets",
        "subnet-1",
        "subnet-2",
        "--tags",
        "Key=team,Value=web",
    ]);
    let lb = &lb["LoadBalancers"][0];
    assert_eq!(lb["State"]["Code"], "provisioning");
    assert_eq!(lb["Type"], "application");
    assert_eq!(lb["Scheme"], "internet-facing");
    assert!(s(&lb["DNSName"]).ends_with(".us-east-1.elb.amazonaws.com"));
    let lb_arn = s(&lb["LoadBalancerArn"]);
    elb.ok(&["wait", "load-balancer-available", "--load-balancer-arns", &lb_arn]);

    let listener = elb.ok(&[
        "create-listener",
        "--load-balancer-arn",
        &lb_arn,
        "--protocol",
        "HTTP",
        "--port",
        "8080",
        "--default-actions",
        &format!("Type=forward,TargetGroupArn={tg_arn}"),
    ]);
    let listener_arn = s(&listener["Listeners"][0]["ListenerArn"]);
    assert_eq!(listener["Listeners"][0]["Port"], 8080);

    let rule = elb.ok(&[
        "create-rule",
        "--listener-arn",
        &listener_arn,
        "--priority",
        "10",
        "--conditions",
        "Field=path-pattern,Values=/api/*",
        "--actions",
        &format!("Type=forward,TargetGroupArn={tg_arn}"),
    ]);
    let rule = &rule["Rules"][0];
    assert_eq!(rule["Priority"], "10");
    assert_eq!(rule["Conditions"][0]["PathPatternConfig"]["Values"][0], "/api/*");
    let rule_arn = s(&rule["RuleArn"]);
    let rule2 = elb.ok(&[
        "create-rule",
        "--listener-arn",
        &listener_arn,
        "--priority",
        "20",
        "--conditions",
        "Field=host-header,HostHeaderConfig={Values=[api.example.com]}",
        "--actions",
        "Type=fixed-response,FixedResponseConfig={StatusCode=404,ContentType=text/plain}",
    ]);
    let rule2_arn = s(&rule2["Rules"][0]["RuleArn"]);

    elb.ok(&[
        "register-targets",
        "--target-group-arn",
        &tg_arn,
        "--targets",
        "Id=10.0.0.5,Port=8000",
        "Id=10.0.0.6",
    ]);
    let health = elb.ok(&["describe-target-health", "--target-group-arn", &tg_arn]);
    assert_eq!(states(&health), ["initial", "initial"]);
    assert_eq!(
        health["TargetHealthDescriptions"][0]["TargetHealth"]["Reason"],
        "Elb.RegistrationInProgress"
    );

    let attrs = elb.ok(&[
        "modify-target-group-attributes",
        "--target-group-arn",
        &tg_arn,
        "--attributes",
        // Long enough that the target still drains when the next CLI call
        // (seconds on a loaded machine) describes it.
        "Key=deregistration_delay.timeout_seconds,Value=120",
    ]);
    let delay = attrs["Attributes"]
        .as_array()
        .expect("Attributes")
        .iter()
        .find(|a| a["Key"] == "deregistration_delay.timeout_seconds")
        .map(|a| a["Value"].clone());
    assert_eq!(delay, Some(Value::from("120")));
    elb.ok(&["deregister-targets", "--target-group-arn", &tg_arn, "--targets", "Id=10.0.0.6"]);
    let health = elb.ok(&["describe-target-health", "--target-group-arn", &tg_arn]);
    assert_eq!(states(&health), ["initial", "draining"]);

    elb.ok(&[
        "set-rule-priorities",
        "--rule-priorities",
        &format!("RuleArn={rule_arn},Priority=20"),
        &format!("RuleArn={rule2_arn},Priority=10"),
    ]);
    let rules = elb.ok(&["describe-rules", "--listener-arn", &listener_arn]);
    let order: Vec<String> =
        rules["Rules"].as_array().expect("Rules").iter().map(|r| s(&r["RuleArn"])).collect();
    assert_eq!(order[..2], [rule2_arn.clone(), rule_arn.clone()]);
    assert_eq!(rules["Rules"][2]["IsDefault"], true);

    // Describes by names and by ARNs.
    let by_name = elb.ok(&["describe-load-balancers", "--names", "front"]);
    assert_eq!(by_name["LoadBalancers"][0]["LoadBalancerArn"], lb_arn.as_str());
    assert_eq!(by_name["LoadBalancers"][0]["State"]["Code"], "active");
    let by_arn = elb.ok(&["describe-load-balancers", "--load-balancer-arns", &lb_arn]);
    assert_eq!(by_arn["LoadBalancers"][0]["LoadBalancerName"], "front");
    let tgs = elb.ok(&["describe-target-groups", "--names", "web"]);
    assert_eq!(tgs["TargetGroups"][0]["LoadBalancerArns"][0], lb_arn.as_str());
    let tgs = elb.ok(&["describe-target-groups", "--load-balancer-arn", &lb_arn]);
    assert_eq!(tgs["TargetGroups"][0]["TargetGroupArn"], tg_arn.as_str());
    let listeners = elb.ok(&["describe-listeners", "--listener-arns", &listener_arn]);
    assert_eq!(listeners["Listeners"][0]["Protocol"], "HTTP");
    let tags = elb.ok(&["describe-tags", "--resource-arns", &lb_arn]);
    assert_eq!(tags["TagDescriptions"][0]["Tags"][0]["Key"], "team");

    // Errors as the CLI prints them.
    let err = elb.fails(&["describe-load-balancers", "--names", "nope"]);
    assert!(err.contains("(LoadBalancerNotFound)"), "{err}");
    let err =
        elb.fails(&["create-target-group", "--name", "web", "--protocol", "HTTP", "--port", "81"]);
    assert!(err.contains("(DuplicateTargetGroupName)"), "{err}");
    let err = elb.fails(&[
        "create-rule",
        "--listener-arn",
        &listener_arn,
        "--priority",
        "10",
        "--conditions",
        "Field=path-pattern,Values=/x",
        "--actions",
        "Type=fixed-response,FixedResponseConfig={StatusCode=200}",
    ]);
    assert!(err.contains("(PriorityInUse)"), "{err}");
    let err = elb.fails(&["create-load-balancer", "--name", "nlb", "--type", "network"]);
    assert!(err.contains("(ValidationError)") && err.contains("network"), "{err}");

    // Delete in dependency order.
    let err = elb.fails(&["delete-target-group", "--target-group-arn", &tg_arn]);
    assert!(err.contains("(ResourceInUse)"), "{err}");
    elb.ok(&["delete-rule", "--rule-arn", &rule_arn]);
    elb.ok(&["delete-listener", "--listener-arn", &listener_arn]);
    elb.ok(&["delete-target-group", "--target-group-arn", &tg_arn]);
    elb.ok(&["delete-load-balancer", "--load-balancer-arn", &lb_arn]);
    let all = elb.ok(&["describe-load-balancers"]);
    assert_eq!(all["LoadBalancers"], Value::Array(vec![]));
}
