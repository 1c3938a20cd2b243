//! CodeDeploy for ECS with the real `aws deploy` CLI: applications, deployment groups with
//! their blue/green configuration, target group pair and ECS service, the predefined and
//! custom deployment configurations, and CodeDeploy's errors for bad input. Needs the
//! `aws` CLI (no Docker): without it the test fails saying so.

mod support;

use serde_json::{json, Value};
use support::{Aws, Server};

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}")).to_owned()
}

#[test]
fn applications_deployment_groups_and_configs_as_codedeploy_serves_them() {
    let server = Server::start();
    let deploy = Aws::new(&server, "deploy");
    let elb = Aws::new(&server, "elbv2");

    let created = deploy.ok(&[
        "create-application",
        "--application-name",
        "web",
        "--compute-platform",
        "ECS",
    ]);
    assert!(created["applicationId"].as_str().is_some_and(|id| id.len() == 36), "{created:#}");
    let app = deploy.ok(&["get-application", "--application-name", "web"]);
    assert_eq!(app["application"]["computePlatform"], "ECS");
    assert_eq!(app["application"]["applicationName"], "web");
    let again = deploy.fails(&[
        "create-application",
        "--application-name",
        "web",
        "--compute-platform",
        "ECS",
    ]);
    assert!(again.contains("ApplicationAlreadyExistsException"), "{again}");
    let server_app = deploy.fails(&[
        "create-application",
        "--application-name",
        "ec2",
        "--compute-platform",
        "Server",
    ]);
    assert!(server_app.contains("InvalidComputePlatformException"), "{server_app}");
    let listed = deploy.ok(&["list-applications"]);
    assert_eq!(listed["applications"], json!(["web"]));
    let missing = deploy.fails(&["get-application", "--application-name", "nope"]);
    assert!(missing.contains("ApplicationDoesNotExistException"), "{missing}");

    // The load balancing a deployment group names: two target groups and two listeners.
    let blue = elb.quick_target_group("cd-blue", "instance", Some(2));
    let _green = elb.quick_target_group("cd-green", "instance", Some(2));
    let (_, prod) = elb.forwarding_listener("cd-lb", 18081, &blue);
    let lb_arn = s(&elb.ok(&["describe-load-balancers", "--names", "cd-lb"])["LoadBalancers"][0]
        ["LoadBalancerArn"]);
    let test = s(&elb.ok(&[
        "create-listener",
        "--load-balancer-arn",
        &lb_arn,
        "--protocol",
        "HTTP",
        "--port",
        "18082",
        "--default-actions",
        &format!("Type=forward,TargetGroupArn={blue}"),
    ])["Listeners"][0]["ListenerArn"]);

    let group = |name: &str, listener: &str| {
        json!({
            "applicationName": "web",
            "deploymentGroupName": name,
            "deploymentConfigName": "CodeDeployDefault.ECSLinear10PercentEvery1Minutes",
            "serviceRoleArn": "arn:aws:iam::000000000000:role/codedeploy",
            "deploymentStyle": {"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
            "blueGreenDeploymentConfiguration": {
                "terminateBlueInstancesOnDeploymentSuccess": {"action": "TERMINATE", "terminationWaitTimeInMinutes": 5},
                "deploymentReadyOption": {"actionOnTimeout": "CONTINUE_DEPLOYMENT", "waitTimeInMinutes": 0},
            },
            "autoRollbackConfiguration": {"enabled": true, "events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_REQUEST"]},
            "loadBalancerInfo": {"targetGroupPairInfoList": [{
                "targetGroups": [{"name": "cd-blue"}, {"name": "cd-green"}],
                "prodTrafficRoute": {"listenerArns": [listener]},
                "testTrafficRoute": {"listenerArns": [test]},
            }]},
            "ecsServices": [{"serviceName": "web", "clusterName": "default"}],
        })
        .to_string()
    };
    let made = deploy.ok(&["create-deployment-group", "--cli-input-json", &group("dg", &prod)]);
    assert!(made["deploymentGroupId"].as_str().is_some(), "{made:#}");
    let got = deploy.ok(&[
        "get-deployment-group",
        "--application-name",
        "web",
        "--deployment-group-name",
        "dg",
    ]);
    let info = &got["deploymentGroupInfo"];
    assert_eq!(info["computePlatform"], "ECS");
    assert_eq!(info["deploymentStyle"]["deploymentType"], "BLUE_GREEN");
    assert_eq!(info["ecsServices"][0]["serviceName"], "web");
    assert_eq!(
        info["loadBalancerInfo"]["targetGroupPairInfoList"][0]["prodTrafficRoute"]["listenerArns"]
            [0],
        prod.as_str()
    );

    let bad_listener = deploy.fails(&[
        "create-deployment-group",
        "--cli-input-json",
        &group("dg2", "arn:aws:elasticloadbalancing:us-east-1:000000000000:listener/app/x/1/2"),
    ]);
    assert!(bad_listener.contains("InvalidLoadBalancerInfoException"), "{bad_listener}");
    let mut no_style: Value = serde_json::from_str(&group("dg3", &prod)).unwrap();
    no_style.as_object_mut().unwrap().remove("deploymentStyle");
    let refused =
        deploy.fails(&["create-deployment-group", "--cli-input-json", &no_style.to_string()]);
    assert!(refused.contains("InvalidDeploymentStyleException"), "{refused}");

    let updated = deploy.ok(&[
        "update-deployment-group",
        "--application-name",
        "web",
        "--current-deployment-group-name",
        "dg",
        "--new-deployment-group-name",
        "dg-renamed",
        "--deployment-config-name",
        "CodeDeployDefault.ECSCanary10Percent5Minutes",
    ]);
    assert_eq!(updated["hooksNotCleanedUp"], json!([]));
    let groups = deploy.ok(&["list-deployment-groups", "--application-name", "web"]);
    assert_eq!(groups["deploymentGroups"], json!(["dg-renamed"]));

    // Configurations: the predefined ECS ones and a custom one.
    let configs = deploy.ok(&["list-deployment-configs"]);
    for name in [
        "CodeDeployDefault.ECSAllAtOnce",
        "CodeDeployDefault.ECSLinear10PercentEvery1Minutes",
        "CodeDeployDefault.ECSLinear10PercentEvery3Minutes",
        "CodeDeployDefault.ECSCanary10Percent5Minutes",
        "CodeDeployDefault.ECSCanary10Percent15Minutes",
    ] {
        assert!(
            configs["deploymentConfigsList"].as_array().unwrap().contains(&json!(name)),
            "{configs:#}"
        );
    }
    let canary = deploy.ok(&[
        "get-deployment-config",
        "--deployment-config-name",
        "CodeDeployDefault.ECSCanary10Percent15Minutes",
    ]);
    assert_eq!(
        canary["deploymentConfigInfo"]["trafficRoutingConfig"]["timeBasedCanary"]["canaryInterval"],
        15
    );
    deploy.ok(&[
        "create-deployment-config",
        "--deployment-config-name",
        "Linear20Every2",
        "--compute-platform",
        "ECS",
        "--traffic-routing-config",
        "type=TimeBasedLinear,timeBasedLinear={linearPercentage=20,linearInterval=2}",
    ]);
    let custom =
        deploy.ok(&["get-deployment-config", "--deployment-config-name", "Linear20Every2"]);
    assert_eq!(
        custom["deploymentConfigInfo"]["trafficRoutingConfig"]["timeBasedLinear"]
            ["linearPercentage"],
        20
    );
    let bad = deploy.fails(&[
        "create-deployment-config",
        "--deployment-config-name",
        "Bad",
        "--compute-platform",
        "ECS",
        "--traffic-routing-config",
        "type=TimeBasedCanary,timeBasedCanary={canaryPercentage=100,canaryInterval=2}",
    ]);
    assert!(bad.contains("InvalidTrafficRoutingConfigurationException"), "{bad}");
    deploy.ok(&[
        "update-deployment-group",
        "--application-name",
        "web",
        "--current-deployment-group-name",
        "dg-renamed",
        "--deployment-config-name",
        "Linear20Every2",
    ]);
    let in_use =
        deploy.fails(&["delete-deployment-config", "--deployment-config-name", "Linear20Every2"]);
    assert!(in_use.contains("DeploymentConfigInUseException"), "{in_use}");

    deploy.ok(&[
        "delete-deployment-group",
        "--application-name",
        "web",
        "--deployment-group-name",
        "dg-renamed",
    ]);
    deploy.ok(&["delete-deployment-config", "--deployment-config-name", "Linear20Every2"]);
    deploy.ok(&["delete-application", "--application-name", "web"]);
    assert_eq!(deploy.ok(&["list-applications"])["applications"], json!([]));
    let unknown = deploy.fails(&["get-deployment", "--deployment-id", "d-ABCDEFGHI"]);
    assert!(unknown.contains("DeploymentDoesNotExistException"), "{unknown}");
}
