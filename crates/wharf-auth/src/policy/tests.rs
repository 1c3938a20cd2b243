use serde_json::json;

use super::document::{trusts_aws, trusts_service};
use super::*;

fn policy(v: serde_json::Value) -> Policy {
    Policy::parse(&v).unwrap()
}

const CLUSTER_PROD: &str = "arn:aws:ecs:us-east-1:123456789012:cluster/prod";

#[test]
fn default_deny_then_allow_then_explicit_deny_wins() {
    let ctx =
        Context::new("ecs:RunTask", "arn:aws:ecs:us-east-1:123456789012:task-definition/web:1");
    assert_eq!(evaluate([], &ctx), Decision::ImplicitDeny);
    let allow = policy(
        json!({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecs:*","Resource":"*"}}),
    );
    assert_eq!(evaluate([&allow], &ctx), Decision::Allow);
    let deny = policy(
        json!({"Statement":[{"Effect":"Deny","Action":["ecs:Run*"],"Resource":"arn:aws:ecs:*:*:task-definition/web:*"}]}),
    );
    assert_eq!(evaluate([&allow, &deny], &ctx), Decision::ExplicitDeny);
    assert_eq!(evaluate([&deny, &allow], &ctx), Decision::ExplicitDeny);
}

#[test]
fn actions_are_case_insensitive_resources_are_not() {
    let p = policy(
        json!({"Statement":{"Effect":"Allow","Action":"ECS:describe*","Resource":"arn:aws:ecs:*:*:cluster/Prod"}}),
    );
    assert_eq!(
        evaluate([&p], &Context::new("ecs:DescribeClusters", "arn:aws:ecs:r:1:cluster/Prod")),
        Decision::Allow
    );
    assert_eq!(
        evaluate([&p], &Context::new("ecs:DescribeClusters", "arn:aws:ecs:r:1:cluster/prod")),
        Decision::ImplicitDeny
    );
}

#[test]
fn not_action_and_not_resource() {
    let p = policy(
        json!({"Statement":{"Effect":"Allow","NotAction":"ecs:Delete*","NotResource":CLUSTER_PROD}}),
    );
    assert_eq!(
        evaluate(
            [&p],
            &Context::new("ecs:CreateService", "arn:aws:ecs:us-east-1:123456789012:cluster/dev")
        ),
        Decision::Allow
    );
    assert_eq!(
        evaluate(
            [&p],
            &Context::new("ecs:DeleteCluster", "arn:aws:ecs:us-east-1:123456789012:cluster/dev")
        ),
        Decision::ImplicitDeny
    );
    assert_eq!(
        evaluate([&p], &Context::new("ecs:CreateService", CLUSTER_PROD)),
        Decision::ImplicitDeny
    );
}

#[test]
fn ecs_cluster_and_tag_conditions() {
    let p = policy(json!({"Statement":[{
        "Effect":"Allow","Action":"ecs:RunTask","Resource":"*",
        "Condition":{"ArnEquals":{"ecs:cluster":CLUSTER_PROD},"StringEquals":{"aws:RequestTag/team":["a","b"]}}
    }]}));
    let base = Context::new("ecs:RunTask", "*");
    assert_eq!(
        evaluate(
            [&p],
            &base.clone().with("ecs:cluster", CLUSTER_PROD).with("aws:RequestTag/team", "b")
        ),
        Decision::Allow
    );
    assert_eq!(
        evaluate(
            [&p],
            &base.clone().with("ecs:cluster", CLUSTER_PROD).with("aws:RequestTag/team", "c")
        ),
        Decision::ImplicitDeny
    );
    assert_eq!(
        evaluate([&p], &base.clone().with("ecs:cluster", CLUSTER_PROD)),
        Decision::ImplicitDeny
    );
    // Keys compare case-insensitively.
    assert_eq!(
        evaluate([&p], &base.with("ECS:Cluster", CLUSTER_PROD).with("aws:requesttag/team", "a")),
        Decision::Allow
    );
}

#[test]
fn negated_ifexists_null_and_set_operators() {
    let deny = policy(json!({"Statement":[
        {"Effect":"Allow","Action":"*","Resource":"*"},
        {"Effect":"Deny","Action":"ecs:*","Resource":"*","Condition":{"StringNotEquals":{"aws:ResourceTag/env":"dev"}}}
    ]}));
    let ctx = Context::new("ecs:StopTask", "*");
    // A missing key makes a negated operator true: denied.
    assert_eq!(evaluate([&deny], &ctx), Decision::ExplicitDeny);
    assert_eq!(evaluate([&deny], &ctx.clone().with("aws:ResourceTag/env", "dev")), Decision::Allow);
    let if_exists = policy(
        json!({"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEqualsIfExists":{"aws:ResourceTag/env":"dev"}}}}),
    );
    assert_eq!(evaluate([&if_exists], &ctx), Decision::Allow);
    assert_eq!(
        evaluate([&if_exists], &ctx.clone().with("aws:ResourceTag/env", "prod")),
        Decision::ImplicitDeny
    );
    let null = policy(
        json!({"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Null":{"aws:RequestTag/owner":"false"}}}}),
    );
    assert_eq!(evaluate([&null], &ctx), Decision::ImplicitDeny);
    assert_eq!(evaluate([&null], &ctx.clone().with("aws:RequestTag/owner", "x")), Decision::Allow);
    let all = policy(
        json!({"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":["a","b"]}}}}),
    );
    assert_eq!(
        evaluate([&all], &ctx.clone().with("aws:TagKeys", "a").with("aws:TagKeys", "b")),
        Decision::Allow
    );
    assert_eq!(
        evaluate([&all], &ctx.clone().with("aws:TagKeys", "a").with("aws:TagKeys", "c")),
        Decision::ImplicitDeny
    );
    let any = policy(
        json!({"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"ForAnyValue:StringLike":{"aws:TagKeys":"te*"}}}}),
    );
    assert_eq!(
        evaluate([&any], &ctx.clone().with("aws:TagKeys", "x").with("aws:TagKeys", "team")),
        Decision::Allow
    );
    assert_eq!(evaluate([&any], &ctx), Decision::ImplicitDeny);
}

#[test]
fn malformed_policies_are_refused_with_the_element_named() {
    for (doc, words) in [
        (json!({"Statement":{"Effect":"Maybe","Action":"*","Resource":"*"}}), "Effect"),
        (json!({"Statement":{"Effect":"Allow","Resource":"*"}}), "Action"),
        (
            json!({"Statement":{"Effect":"Allow","Action":"RunTask","Resource":"*"}}),
            "service:Action",
        ),
        (json!({"Statement":{"Effect":"Allow","Action":"*"}}), "Resource"),
        (
            json!({"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:CurrentTime":"2020"}}}}),
            "DateLessThan",
        ),
        (json!({"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Extra":1}}), "Extra"),
        (json!({"Version":"2099-01-01","Statement":[]}), "Version"),
    ] {
        let e = Policy::parse(&doc).unwrap_err();
        assert!(e.0.contains(words), "{doc}: {e}");
    }
}

#[test]
fn trust_policies_name_principals_and_services() {
    let trust = policy(json!({"Statement":[
        {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/alice"},"Action":"sts:AssumeRole"},
        {"Effect":"Allow","Principal":{"AWS":"111111111111","Service":["ecs-tasks.amazonaws.com"]},"Action":"sts:AssumeRole"}
    ]}));
    assert_eq!(
        trusts_aws(
            &trust,
            "sts:AssumeRole",
            "arn:aws:iam::123456789012:user/alice",
            "123456789012"
        ),
        Some(false)
    );
    assert_eq!(
        trusts_aws(&trust, "sts:AssumeRole", "arn:aws:iam::111111111111:user/bob", "111111111111"),
        Some(true)
    );
    assert_eq!(
        trusts_aws(&trust, "sts:AssumeRole", "arn:aws:iam::123456789012:user/bob", "123456789012"),
        None
    );
    assert!(trusts_service(&trust, "sts:AssumeRole", "ecs-tasks.amazonaws.com"));
    assert!(!trusts_service(&trust, "sts:AssumeRole", "lambda.amazonaws.com"));
    // Trust statements never grant in identity evaluation.
    assert_eq!(evaluate([&trust], &Context::new("sts:AssumeRole", "*")), Decision::ImplicitDeny);
}

#[test]
fn access_denied_reads_as_iam_s() {
    let ctx = Context::new("ecs:RunTask", "arn:aws:ecs:us-east-1:1:task-definition/web:1");
    assert_eq!(
        denied_message("arn:aws:iam::1:user/bob", &ctx, Decision::ImplicitDeny),
        "User: arn:aws:iam::1:user/bob is not authorized to perform: ecs:RunTask on resource: arn:aws:ecs:us-east-1:1:task-definition/web:1 because no identity-based policy allows the ecs:RunTask action"
    );
    assert!(denied_message("u", &ctx, Decision::ExplicitDeny)
        .ends_with("with an explicit deny in an identity-based policy"));
}
