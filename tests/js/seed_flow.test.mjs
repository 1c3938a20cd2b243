// The seed flow with the AWS SDK for JavaScript v3, against a running Wharf server
// (crates/wharf/tests/js_sdk.rs starts one and runs this with node's test runner):
// register a task definition; find the default VPC's subnets and security group (EC2);
// a service behind a load balancer (ELBv2) on awsvpc; a new revision; scale to two; the
// containers' logs (CloudWatch Logs); the SDK's waiters (services stable, tasks running,
// tasks stopped) all along.
//
// Environment: WHARF_ENDPOINT (http://127.0.0.1:PORT), WHARF_CLUSTER, WHARF_LISTENER_PORT
// (a free port on 127.0.0.1 for the load balancer's listener), WHARF_IMAGE.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  ECSClient,
  RegisterTaskDefinitionCommand,
  CreateServiceCommand,
  UpdateServiceCommand,
  DescribeServicesCommand,
  ListTasksCommand,
  DescribeTasksCommand,
  RunTaskCommand,
  StopTaskCommand,
  DeleteServiceCommand,
  waitUntilServicesStable,
  waitUntilTasksRunning,
  waitUntilTasksStopped,
} from "@aws-sdk/client-ecs";
import {
  ElasticLoadBalancingV2Client,
  CreateTargetGroupCommand,
  CreateLoadBalancerCommand,
  CreateListenerCommand,
  DescribeTargetHealthCommand,
  ModifyTargetGroupAttributesCommand,
} from "@aws-sdk/client-elastic-load-balancing-v2";
import {
  CloudWatchLogsClient,
  FilterLogEventsCommand,
} from "@aws-sdk/client-cloudwatch-logs";
import {
  EC2Client,
  DescribeVpcsCommand,
  DescribeSubnetsCommand,
  DescribeSecurityGroupsCommand,
  DescribeNetworkInterfacesCommand,
} from "@aws-sdk/client-ec2";

const endpoint = process.env.WHARF_ENDPOINT;
const cluster = process.env.WHARF_CLUSTER;
const port = Number(process.env.WHARF_LISTENER_PORT);
const image = process.env.WHARF_IMAGE ?? "wharf-test/busybox:1";
assert.ok(endpoint && cluster && port, "WHARF_ENDPOINT, WHARF_CLUSTER and WHARF_LISTENER_PORT");

const config = {
  endpoint,
  region: "us-east-1",
  credentials: { accessKeyId: "test", secretAccessKey: "test" },
  maxAttempts: 1,
};
const ecs = new ECSClient(config);
const elb = new ElasticLoadBalancingV2Client(config);
const logs = new CloudWatchLogsClient(config);
const ec2 = new EC2Client(config);
// The waiters poll every second here (their defaults are ECS's: 6 to 15 s).
const waiter = (client) => ({ client, maxWaitTime: 180, minDelay: 1, maxDelay: 2 });

/** GET / through the load balancer: [status, body]. */
async function get() {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(5000) });
    return [r.status, (await r.text()).trim()];
  } catch {
    return [0, ""];
  }
}

async function eventually(what, f, seconds = 60) {
  const end = Date.now() + seconds * 1000;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function webDefinition(version) {
  const html = `mkdir -p /w && echo ${version} > /w/index.html && echo serving ${version} && exec httpd -f -p 80 -h /w`;
  return new RegisterTaskDefinitionCommand({
    family: "js-web",
    networkMode: "awsvpc",
    requiresCompatibilities: ["EC2"],
    containerDefinitions: [
      {
        name: "web",
        image,
        memory: 32,
        essential: true,
        stopTimeout: 2,
        command: ["sh", "-c", html],
        portMappings: [{ containerPort: 80, protocol: "tcp" }],
        logConfiguration: {
          logDriver: "awslogs",
          options: {
            "awslogs-group": "/ecs/js-web",
            "awslogs-region": "us-east-1",
            "awslogs-stream-prefix": "ecs",
            "awslogs-create-group": "true",
          },
        },
      },
    ],
  });
}

test("the seed flow: register, a service behind a load balancer, a new revision, two tasks, logs", async () => {
  const first = await ecs.send(webDefinition("v1"));
  assert.equal(first.taskDefinition.revision, 1);
  assert.equal(first.taskDefinition.status, "ACTIVE");

  // The default VPC's subnets and security group, as deploy code finds them.
  const vpcs = await ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: "is-default", Values: ["true"] }] }));
  const vpc = vpcs.Vpcs[0].VpcId;
  const subnets = await ec2.send(
    new DescribeSubnetsCommand({
      Filters: [
        { Name: "vpc-id", Values: [vpc] },
        { Name: "default-for-az", Values: ["true"] },
      ],
    }),
  );
  assert.ok(subnets.Subnets.length >= 1);
  const groups = await ec2.send(
    new DescribeSecurityGroupsCommand({
      Filters: [
        { Name: "vpc-id", Values: [vpc] },
        { Name: "group-name", Values: ["default"] },
      ],
    }),
  );
  const network = {
    awsvpcConfiguration: {
      subnets: [subnets.Subnets[0].SubnetId],
      securityGroups: [groups.SecurityGroups[0].GroupId],
    },
  };

  const tg = await elb.send(
    new CreateTargetGroupCommand({
      Name: "js-web",
      Protocol: "HTTP",
      Port: 80,
      TargetType: "ip",
      VpcId: vpc,
      HealthCheckIntervalSeconds: 5,
      HealthCheckTimeoutSeconds: 2,
      HealthyThresholdCount: 2,
    }),
  );
  const tgArn = tg.TargetGroups[0].TargetGroupArn;
  // Old tasks drain for 5 s, not ELB's 300 (services-stable waits for the drain).
  await elb.send(
    new ModifyTargetGroupAttributesCommand({
      TargetGroupArn: tgArn,
      Attributes: [{ Key: "deregistration_delay.timeout_seconds", Value: "5" }],
    }),
  );
  const lb = await elb.send(
    new CreateLoadBalancerCommand({ Name: "js-web", Subnets: subnets.Subnets.map((s) => s.SubnetId) }),
  );
  await elb.send(
    new CreateListenerCommand({
      LoadBalancerArn: lb.LoadBalancers[0].LoadBalancerArn,
      Protocol: "HTTP",
      Port: port,
      DefaultActions: [{ Type: "forward", TargetGroupArn: tgArn }],
    }),
  );

  await ecs.send(
    new CreateServiceCommand({
      cluster,
      serviceName: "js-web",
      taskDefinition: "js-web",
      desiredCount: 1,
      networkConfiguration: network,
      loadBalancers: [{ targetGroupArn: tgArn, containerName: "web", containerPort: 80 }],
      deploymentConfiguration: { minimumHealthyPercent: 100, maximumPercent: 200 },
    }),
  );
  await waitUntilServicesStable(waiter(ecs), { cluster, services: ["js-web"] });
  await eventually("v1 through the load balancer", async () => (await get())[1] === "v1");

  // The task's ENI resolves to its address (EC2 DescribeNetworkInterfaces).
  const arns = (await ecs.send(new ListTasksCommand({ cluster, serviceName: "js-web" }))).taskArns;
  const [task] = (await ecs.send(new DescribeTasksCommand({ cluster, tasks: arns }))).tasks;
  const details = Object.fromEntries(task.attachments[0].details.map((d) => [d.name, d.value]));
  const eni = await ec2.send(
    new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [details.networkInterfaceId] }),
  );
  assert.equal(eni.NetworkInterfaces[0].PrivateIpAddress, details.privateIPv4Address);

  // A new revision, rolled out.
  const second = await ecs.send(webDefinition("v2"));
  assert.equal(second.taskDefinition.revision, 2);
  await ecs.send(new UpdateServiceCommand({ cluster, service: "js-web", taskDefinition: "js-web:2" }));
  await waitUntilServicesStable(waiter(ecs), { cluster, services: ["js-web"] });
  await eventually("only v2 through the load balancer", async () => {
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push((await get())[1]);
    return answers.every((a) => a === "v2");
  });

  // Scaled to two: two running tasks, two healthy targets.
  await ecs.send(new UpdateServiceCommand({ cluster, service: "js-web", desiredCount: 2 }));
  await waitUntilServicesStable(waiter(ecs), { cluster, services: ["js-web"] });
  const described = await ecs.send(new DescribeServicesCommand({ cluster, services: ["js-web"] }));
  const service = described.services[0];
  assert.equal(service.runningCount, 2);
  assert.equal(service.deployments.length, 1);
  assert.equal(service.taskDefinition, second.taskDefinition.taskDefinitionArn);
  await eventually("two healthy targets", async () => {
    const h = await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: tgArn }));
    return h.TargetHealthDescriptions.filter((t) => t.TargetHealth.State === "healthy").length === 2;
  });

  // The containers' output, in CloudWatch Logs.
  const events = await eventually("both revisions' lines in /ecs/js-web", async () => {
    const r = await logs.send(new FilterLogEventsCommand({ logGroupName: "/ecs/js-web" }));
    const lines = r.events.map((e) => e.message);
    return lines.includes("serving v1") && lines.filter((l) => l === "serving v2").length >= 2 && r.events;
  });
  assert.ok(events.every((e) => e.logStreamName.startsWith("ecs/web/")));

  // A standalone task, watched by the tasks-running and tasks-stopped waiters.
  const ran = await ecs.send(
    new RunTaskCommand({ cluster, taskDefinition: "js-web:1", networkConfiguration: network }),
  );
  const standalone = ran.tasks[0].taskArn;
  await waitUntilTasksRunning(waiter(ecs), { cluster, tasks: [standalone] });
  await ecs.send(new StopTaskCommand({ cluster, task: standalone, reason: "done" }));
  await waitUntilTasksStopped(waiter(ecs), { cluster, tasks: [standalone] });
  const stopped = await ecs.send(new DescribeTasksCommand({ cluster, tasks: [standalone] }));
  assert.equal(stopped.tasks[0].lastStatus, "STOPPED");
  assert.equal(stopped.tasks[0].stoppedReason, "done");

  await ecs.send(new DeleteServiceCommand({ cluster, service: "js-web", force: true }));
});
