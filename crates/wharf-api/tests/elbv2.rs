//! ELBv2 on the Query protocol, in process through the router: every
//! operation, the seed flow, and bad input getting ELBv2's codes (never a
//! 500, nothing half-written).

use std::sync::Arc;

use axum::body::Body;
use axum::Router;
use http::{Request, StatusCode};
use tower::ServiceExt;
use wharf_api::AppState;
use wharf_model::clock::FakeClock;
use wharf_store::SqliteStore;

struct Server {
    router: Router,
    clock: Arc<FakeClock>,
    _dir: tempfile::TempDir,
}

fn server() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("wharf.db")).unwrap();
    let clock = Arc::new(FakeClock::at(1_700_000_000_000));
    let state = AppState::new(
        Arc::new(store),
        Arc::new(wharf_store::LogStore::open(&dir.path().join("logs.sqlite3"), i64::MAX).unwrap()),
        clock.clone(),
        "123456789012",
    );
    Server { router: wharf_api::router(state), clock, _dir: dir }
}

struct Answer {
    status: StatusCode,
    content_type: String,
    xml: String,
}

impl Answer {
    /// The text of the first `<tag>` element.
    fn first(&self, tag: &str) -> Option<String> {
        all(&self.xml, tag).into_iter().next()
    }

    fn all(&self, tag: &str) -> Vec<String> {
        all(&self.xml, tag)
    }

    fn code(&self) -> String {
        self.first("Code").unwrap_or_default()
    }
}

fn all(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        let Some(j) = after.find(&close) else { break };
        out.push(after[..j].to_owned());
        rest = &after[j..];
    }
    out
}

async fn call(s: &Server, action: &str, params: &[(&str, &str)]) -> Answer {
    let mut body = form_urlencoded::Serializer::new(String::new());
    body.append_pair("Action", action).append_pair("Version", "2015-12-01");
    for (k, v) in params {
        body.append_pair(k, v);
    }
    let req = Request::post("/")
        .header("content-type", "application/x-www-form-urlencoded; charset=utf-8")
        .body(Body::from(body.finish()))
        .unwrap();
    let resp = s.router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let content_type =
        resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
    Answer { status, content_type, xml: String::from_utf8(bytes.to_vec()).unwrap() }
}

async fn ok(s: &Server, action: &str, params: &[(&str, &str)]) -> Answer {
    let a = call(s, action, params).await;
    assert_eq!(a.status, StatusCode::OK, "{action}: {}", a.xml);
    assert!(a.xml.starts_with(&format!(
        "<{action}Response xmlns=\"http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/\"><{action}Result>"
    )));
    a
}

async fn refused(s: &Server, action: &str, params: &[(&str, &str)], code: &str) -> Answer {
    let a = call(s, action, params).await;
    assert_eq!(a.code(), code, "{action}: {}", a.xml);
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{action}: {}", a.xml);
    assert!(a.xml.starts_with("<ErrorResponse xmlns="), "{}", a.xml);
    assert_eq!(a.first("Type").as_deref(), Some("Sender"));
    a
}

struct Seed {
    tg: String,
    lb: String,
    listener: String,
    rule: String,
}

async fn seed(s: &Server) -> Seed {
    let tg = ok(
        s,
        "CreateTargetGroup",
        &[
            ("Name", "web"),
            ("Protocol", "HTTP"),
            ("Port", "80"),
            ("TargetType", "ip"),
            ("VpcId", "vpc-12345678"),
        ],
    )
    .await;
    let tg_arn = tg.first("TargetGroupArn").unwrap();
    let lb = ok(
        s,
        "CreateLoadBalancer",
        &[
            ("Name", "front"),
            ("Subnets.member.1", "subnet-1"),
            ("Subnets.member.2", "subnet-2"),
            ("Tags.member.1.Key", "team"),
            ("Tags.member.1.Value", "web"),
        ],
    )
    .await;
    let lb_arn = lb.first("LoadBalancerArn").unwrap();
    let l = ok(
        s,
        "CreateListener",
        &[
            ("LoadBalancerArn", &lb_arn),
            ("Protocol", "HTTP"),
            ("Port", "8080"),
            ("DefaultActions.member.1.Type", "forward"),
            ("DefaultActions.member.1.TargetGroupArn", &tg_arn),
        ],
    )
    .await;
    let listener = l.first("ListenerArn").unwrap();
    let r = ok(
        s,
        "CreateRule",
        &[
            ("ListenerArn", &listener),
            ("Priority", "10"),
            ("Conditions.member.1.Field", "path-pattern"),
            ("Conditions.member.1.Values.member.1", "/api/*"),
            ("Actions.member.1.Type", "fixed-response"),
            ("Actions.member.1.FixedResponseConfig.StatusCode", "404"),
        ],
    )
    .await;
    Seed { tg: tg_arn, lb: lb_arn, listener, rule: r.first("RuleArn").unwrap() }
}

#[tokio::test]
async fn the_seed_flow() {
    let s = server();
    let unused =
        ok(&s, "CreateTargetGroup", &[("Name", "spare"), ("Protocol", "HTTP"), ("Port", "80")])
            .await;
    let spare = unused.first("TargetGroupArn").unwrap();
    let Seed { tg, lb, listener, rule } = seed(&s).await;
    assert!(lb.contains(":loadbalancer/app/front/"), "{lb}");
    assert!(tg.contains(":targetgroup/web/"), "{tg}");
    assert!(listener.contains(":listener/app/front/"), "{listener}");
    assert!(rule.contains(":listener-rule/app/front/"), "{rule}");

    // Defaults as ELBv2 has them.
    let d = ok(&s, "DescribeTargetGroups", &[("Names.member.1", "web")]).await;
    assert_eq!(d.first("HealthCheckPath").as_deref(), Some("/"));
    assert_eq!(d.first("HealthCheckIntervalSeconds").as_deref(), Some("30"));
    assert_eq!(d.first("HealthCheckTimeoutSeconds").as_deref(), Some("5"));
    assert_eq!(d.first("HealthyThresholdCount").as_deref(), Some("5"));
    assert_eq!(d.first("UnhealthyThresholdCount").as_deref(), Some("2"));
    assert_eq!(d.first("HttpCode").as_deref(), Some("200"));
    assert_eq!(d.first("LoadBalancerArns").as_deref(), Some(&*format!("<member>{lb}</member>")));
    let a = ok(&s, "DescribeTargetGroupAttributes", &[("TargetGroupArn", &tg)]).await;
    assert!(
        a.xml.contains("<Key>deregistration_delay.timeout_seconds</Key><Value>300</Value>"),
        "{}",
        a.xml
    );
    assert!(a.xml.contains("<Key>load_balancing.algorithm.type</Key><Value>round_robin</Value>"));
    let d = ok(&s, "DescribeLoadBalancers", &[("Names.member.1", "front")]).await;
    assert_eq!(d.first("Code").as_deref(), Some("active"));
    assert_eq!(d.first("CanonicalHostedZoneId").as_deref(), Some("Z35SXDOTRQ7X7K"));
    assert!(d.first("DNSName").unwrap().ends_with(".us-east-1.elb.amazonaws.com"));
    assert_eq!(d.first("Scheme").as_deref(), Some("internet-facing"));
    assert_eq!(d.all("ZoneName"), ["us-east-1a", "us-east-1b"]);
    assert_eq!(d.first("CreatedTime").as_deref(), Some("2023-11-14T22:13:20.000Z"));
    let by_arn = ok(&s, "DescribeLoadBalancers", &[("LoadBalancerArns.member.1", &lb)]).await;
    assert_eq!(by_arn.first("LoadBalancerName").as_deref(), Some("front"));

    // Rules: the stored one, then the default.
    let rules = ok(&s, "DescribeRules", &[("ListenerArn", &listener)]).await;
    assert_eq!(rules.all("Priority"), ["10", "default"]);
    assert_eq!(rules.all("IsDefault"), ["false", "true"]);
    assert!(rules.xml.contains(
        "<PathPatternConfig><Values><member>/api/*</member></Values></PathPatternConfig>"
    ));

    // Targets: initial while the group is used, unused in an unused group.
    ok(
        &s,
        "RegisterTargets",
        &[
            ("TargetGroupArn", &tg),
            ("Targets.member.1.Id", "10.0.0.5"),
            ("Targets.member.1.Port", "8000"),
            ("Targets.member.2.Id", "10.0.0.6"),
        ],
    )
    .await;
    let h = ok(&s, "DescribeTargetHealth", &[("TargetGroupArn", &tg)]).await;
    assert_eq!(h.all("State"), ["initial", "initial"]);
    assert_eq!(h.all("Reason"), ["Elb.RegistrationInProgress", "Elb.RegistrationInProgress"]);
    assert_eq!(h.all("HealthCheckPort"), ["8000", "80"]);
    ok(
        &s,
        "RegisterTargets",
        &[("TargetGroupArn", &spare), ("Targets.member.1.Id", "i-0123456789abcdef0")],
    )
    .await;
    let h = ok(&s, "DescribeTargetHealth", &[("TargetGroupArn", &spare)]).await;
    assert_eq!(h.first("State").as_deref(), Some("unused"));
    assert_eq!(h.first("Reason").as_deref(), Some("Target.NotInUse"));
    assert_eq!(
        h.first("Description").as_deref(),
        Some("Target group is not configured to receive traffic from the load balancer")
    );

    // Draining for the deregistration delay, then gone.
    ok(
        &s,
        "ModifyTargetGroupAttributes",
        &[
            ("TargetGroupArn", &tg),
            ("Attributes.member.1.Key", "deregistration_delay.timeout_seconds"),
            ("Attributes.member.1.Value", "5"),
        ],
    )
    .await;
    ok(&s, "DeregisterTargets", &[("TargetGroupArn", &tg), ("Targets.member.1.Id", "10.0.0.6")])
        .await;
    let h = ok(&s, "DescribeTargetHealth", &[("TargetGroupArn", &tg)]).await;
    assert_eq!(h.all("State"), ["initial", "draining"]);
    assert!(h.xml.contains("<Reason>Target.DeregistrationInProgress</Reason>"));
    s.clock.advance_millis(5_000);
    let h = ok(&s, "DescribeTargetHealth", &[("TargetGroupArn", &tg)]).await;
    assert_eq!(h.all("Id"), ["10.0.0.5"]);
    let h = ok(
        &s,
        "DescribeTargetHealth",
        &[("TargetGroupArn", &tg), ("Targets.member.1.Id", "10.0.0.6")],
    )
    .await;
    assert_eq!(h.first("Reason").as_deref(), Some("Target.NotRegistered"));

    // Priorities: a swap in one call; a clash refused.
    let r2 = ok(
        &s,
        "CreateRule",
        &[
            ("ListenerArn", &listener),
            ("Priority", "20"),
            ("Conditions.member.1.Field", "host-header"),
            ("Conditions.member.1.HostHeaderConfig.Values.member.1", "api.example.com"),
            ("Actions.member.1.Type", "forward"),
            ("Actions.member.1.ForwardConfig.TargetGroups.member.1.TargetGroupArn", &tg),
            ("Actions.member.1.ForwardConfig.TargetGroups.member.1.Weight", "3"),
        ],
    )
    .await
    .first("RuleArn")
    .unwrap();
    refused(
        &s,
        "CreateRule",
        &[
            ("ListenerArn", &listener),
            ("Priority", "20"),
            ("Conditions.member.1.Field", "path-pattern"),
            ("Conditions.member.1.Values.member.1", "/x"),
            ("Actions.member.1.Type", "fixed-response"),
            ("Actions.member.1.FixedResponseConfig.StatusCode", "200"),
        ],
        "PriorityInUse",
    )
    .await;
    ok(
        &s,
        "SetRulePriorities",
        &[
            ("RulePriorities.member.1.RuleArn", &rule),
            ("RulePriorities.member.1.Priority", "20"),
            ("RulePriorities.member.2.RuleArn", &r2),
            ("RulePriorities.member.2.Priority", "10"),
        ],
    )
    .await;
    let rules =
        ok(&s, "DescribeRules", &[("RuleArns.member.1", &rule), ("RuleArns.member.2", &r2)]).await;
    assert_eq!(rules.all("Priority"), ["20", "10"]);
    refused(
        &s,
        "SetRulePriorities",
        &[("RulePriorities.member.1.RuleArn", &rule), ("RulePriorities.member.1.Priority", "10")],
        "PriorityInUse",
    )
    .await;

    // Tags.
    ok(
        &s,
        "AddTags",
        &[
            ("ResourceArns.member.1", &tg),
            ("Tags.member.1.Key", "env"),
            ("Tags.member.1.Value", "dev"),
        ],
    )
    .await;
    let t =
        ok(&s, "DescribeTags", &[("ResourceArns.member.1", &lb), ("ResourceArns.member.2", &tg)])
            .await;
    assert_eq!(t.all("Key"), ["team", "env"]);
    ok(&s, "RemoveTags", &[("ResourceArns.member.1", &tg), ("TagKeys.member.1", "env")]).await;

    // Delete in dependency order.
    refused(&s, "DeleteTargetGroup", &[("TargetGroupArn", &tg)], "ResourceInUse").await;
    ok(&s, "DeleteRule", &[("RuleArn", &r2)]).await;
    ok(&s, "DeleteListener", &[("ListenerArn", &listener)]).await;
    refused(&s, "DescribeRules", &[("RuleArns.member.1", &rule)], "RuleNotFound").await;
    ok(&s, "DeleteTargetGroup", &[("TargetGroupArn", &tg)]).await;
    ok(&s, "DeleteLoadBalancer", &[("LoadBalancerArn", &lb)]).await;
    refused(&s, "DescribeLoadBalancers", &[("Names.member.1", "front")], "LoadBalancerNotFound")
        .await;
    let d = ok(&s, "DescribeTargetGroups", &[]).await;
    assert_eq!(d.all("TargetGroupName"), ["spare"]);
}

#[tokio::test]
async fn bad_input_gets_elbv2s_codes_and_writes_nothing() {
    let s = server();
    let Seed { tg, lb, listener, .. } = seed(&s).await;
    refused(
        &s,
        "CreateTargetGroup",
        &[("Name", "web_1"), ("Protocol", "HTTP"), ("Port", "80")],
        "ValidationError",
    )
    .await;
    let a = refused(
        &s,
        "CreateTargetGroup",
        &[("Name", "x"), ("Protocol", "HTTP"), ("Port", "eighty")],
        "ValidationError",
    )
    .await;
    assert!(a.first("Message").unwrap().contains("Port"), "{}", a.xml);
    refused(
        &s,
        "CreateTargetGroup",
        &[("Name", "web"), ("Protocol", "HTTP"), ("Port", "81")],
        "DuplicateTargetGroupName",
    )
    .await;
    refused(
        &s,
        "CreateTargetGroup",
        &[("Name", "t"), ("Protocol", "TCP"), ("Port", "80")],
        "UnsupportedProtocol",
    )
    .await;
    refused(
        &s,
        "CreateTargetGroup",
        &[
            ("Name", "t"),
            ("Protocol", "HTTP"),
            ("Port", "80"),
            ("HealthCheckIntervalSeconds", "5"),
            ("HealthCheckTimeoutSeconds", "10"),
        ],
        "InvalidConfigurationRequest",
    )
    .await;
    refused(&s, "CreateLoadBalancer", &[("Name", "nlb"), ("Type", "network")], "ValidationError")
        .await;
    refused(
        &s,
        "CreateLoadBalancer",
        &[("Name", "one"), ("Subnets.member.1", "subnet-1")],
        "ValidationError",
    )
    .await;
    refused(
        &s,
        "CreateLoadBalancer",
        &[("Name", "front"), ("Scheme", "internal")],
        "DuplicateLoadBalancerName",
    )
    .await;
    refused(
        &s,
        "CreateListener",
        &[
            ("LoadBalancerArn", &lb),
            ("Protocol", "HTTP"),
            ("Port", "8080"),
            ("DefaultActions.member.1.Type", "forward"),
            ("DefaultActions.member.1.TargetGroupArn", &tg),
        ],
        "DuplicateListener",
    )
    .await;
    refused(
        &s,
        "CreateListener",
        &[
            ("LoadBalancerArn", &lb),
            ("Protocol", "TCP"),
            ("Port", "81"),
            ("DefaultActions.member.1.Type", "forward"),
            ("DefaultActions.member.1.TargetGroupArn", &tg),
        ],
        "UnsupportedProtocol",
    )
    .await;
    let missing_tg = tg.replace("/web/", "/nope/");
    refused(
        &s,
        "CreateListener",
        &[
            ("LoadBalancerArn", &lb),
            ("Protocol", "HTTP"),
            ("Port", "81"),
            ("DefaultActions.member.1.Type", "forward"),
            ("DefaultActions.member.1.TargetGroupArn", &missing_tg),
        ],
        "TargetGroupNotFound",
    )
    .await;
    // Nothing half-written: the refused listener is not there.
    let l = ok(&s, "DescribeListeners", &[("LoadBalancerArn", &lb)]).await;
    assert_eq!(l.all("Port"), ["8080"]);
    // A second load balancer cannot share the group.
    let lb2 =
        ok(&s, "CreateLoadBalancer", &[("Name", "other")]).await.first("LoadBalancerArn").unwrap();
    refused(
        &s,
        "CreateListener",
        &[
            ("LoadBalancerArn", &lb2),
            ("Port", "80"),
            ("DefaultActions.member.1.Type", "forward"),
            ("DefaultActions.member.1.TargetGroupArn", &tg),
        ],
        "TargetGroupAssociationLimit",
    )
    .await;
    refused(
        &s,
        "CreateRule",
        &[
            ("ListenerArn", &listener),
            ("Priority", "50001"),
            ("Conditions.member.1.Field", "path-pattern"),
            ("Conditions.member.1.Values.member.1", "/x"),
            ("Actions.member.1.Type", "fixed-response"),
            ("Actions.member.1.FixedResponseConfig.StatusCode", "200"),
        ],
        "ValidationError",
    )
    .await;
    refused(
        &s,
        "CreateRule",
        &[
            ("ListenerArn", &listener),
            ("Priority", "5"),
            ("Conditions.member.1.Field", "cookie"),
            ("Conditions.member.1.Values.member.1", "/x"),
            ("Actions.member.1.Type", "fixed-response"),
            ("Actions.member.1.FixedResponseConfig.StatusCode", "200"),
        ],
        "ValidationError",
    )
    .await;
    refused(
        &s,
        "CreateRule",
        &[
            ("ListenerArn", &listener),
            ("Priority", "5"),
            ("Conditions.member.1.Field", "source-ip"),
            ("Conditions.member.1.SourceIpConfig.Values.member.1", "10.0.0.0/8"),
            ("Actions.member.1.Type", "redirect"),
            ("Actions.member.1.RedirectConfig.StatusCode", "HTTP_301"),
        ],
        "InvalidLoadBalancerAction",
    )
    .await;
    refused(
        &s,
        "RegisterTargets",
        &[("TargetGroupArn", &tg), ("Targets.member.1.Id", "i-0abc")],
        "InvalidTarget",
    )
    .await;
    refused(
        &s,
        "DeregisterTargets",
        &[("TargetGroupArn", &tg), ("Targets.member.1.Id", "10.1.1.1")],
        "InvalidTarget",
    )
    .await;
    refused(
        &s,
        "ModifyTargetGroupAttributes",
        &[
            ("TargetGroupArn", &tg),
            ("Attributes.member.1.Key", "deregistration_delay.timeout_seconds"),
            ("Attributes.member.1.Value", "9999"),
        ],
        "InvalidConfigurationRequest",
    )
    .await;
    refused(
        &s,
        "DescribeLoadBalancerAttributes",
        &[("LoadBalancerArn", "nope")],
        "ValidationError",
    )
    .await;
    refused(
        &s,
        "DescribeTargetGroups",
        &[("TargetGroupArns.member.1", &missing_tg)],
        "TargetGroupNotFound",
    )
    .await;
    refused(
        &s,
        "DeleteListener",
        &[("ListenerArn", &listener.replace("/front/", "/nope/"))],
        "ListenerNotFound",
    )
    .await;
    refused(&s, "DescribeLoadBalancers", &[("PageSize", "0")], "ValidationError").await;
    refused(&s, "CreateTargetGroup", &[], "ValidationError").await;
    // Deletion protection.
    ok(
        &s,
        "ModifyLoadBalancerAttributes",
        &[
            ("LoadBalancerArn", &lb2),
            ("Attributes.member.1.Key", "deletion_protection.enabled"),
            ("Attributes.member.1.Value", "true"),
        ],
    )
    .await;
    refused(&s, "DeleteLoadBalancer", &[("LoadBalancerArn", &lb2)], "OperationNotPermitted").await;
    let a = call(&s, "Nope", &[]).await;
    assert_eq!(a.code(), "InvalidAction");
    assert_eq!(a.content_type, "text/xml");
}

#[tokio::test]
async fn describes_page_with_markers() {
    let s = server();
    for name in ["a", "b", "c"] {
        ok(&s, "CreateTargetGroup", &[("Name", name), ("Protocol", "HTTP"), ("Port", "80")]).await;
    }
    let p1 = ok(&s, "DescribeTargetGroups", &[("PageSize", "2")]).await;
    assert_eq!(p1.all("TargetGroupName"), ["a", "b"]);
    let marker = p1.first("NextMarker").unwrap();
    let p2 = ok(&s, "DescribeTargetGroups", &[("PageSize", "2"), ("Marker", &marker)]).await;
    assert_eq!(p2.all("TargetGroupName"), ["c"]);
    assert!(p2.first("NextMarker").is_none());
    // The same name and settings answer the existing group.
    let again =
        ok(&s, "CreateTargetGroup", &[("Name", "a"), ("Protocol", "HTTP"), ("Port", "80")]).await;
    assert_eq!(
        again.first("TargetGroupArn"),
        ok(&s, "DescribeTargetGroups", &[("Names.member.1", "a")]).await.first("TargetGroupArn")
    );
}
