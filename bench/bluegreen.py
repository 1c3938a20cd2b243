#!/usr/bin/env python3
"""Wharf's blue/green budgets (issue 16), against a running `wharf server` whose embedded
agent runs tasks on the local Docker Engine and whose ALB data plane listens on 127.0.0.1.

A service of two busybox httpd tasks behind a pair of target groups, a production listener
and a test listener (their default rules are the service's productionListenerRule and
testListenerRule), under steady load from client threads on loopback. Four deployments:

1. BLUE_GREEN: failed requests during the whole deployment; whether the test listener
   served green before the production listener did.
2. CANARY (canaryPercent 10, canaryBakeTimeInMinutes 1): at each production step (read
   back from the rule's forward weights), the share of 1,000 requests answered by green
   against the configured share; failed requests.
3. LINEAR (stepPercent 25, stepBakeTimeInMinutes 1): the same at each of the four steps.
4. A CANARY stopped at its canary step with StopServiceDeployment (ROLLBACK): the time from
   the call to the first of 200 answers in a row from blue, against one health check
   interval (5 s); failed requests. Then a CANARY with deploymentConfiguration.alarms whose
   CloudWatch alarm is set to ALARM (SetAlarmState) at its canary step: measured the same.
5. CodeDeploy, on a second service of the CODE_DEPLOY controller: a linear deployment (a
   custom configuration, 25% every minute) measured as 3., then one stopped with
   StopDeployment --auto-rollback-enabled at its first step, measured as 4.

Budgets: zero failed requests; each step within 5 points of its configured weight; the
rollback within one health check interval; the test listener first.

Uses the `aws` CLI for the API (credentials `test`/`test`, region us-east-1) and raw
sockets for the traffic. Progress goes to stderr; the result is Markdown on stdout.

Usage: bluegreen.py --endpoint http://127.0.0.1:PORT --cluster NAME
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

IMAGE = "wharf-test/busybox:1"


def log(*args):
    print(*args, file=sys.stderr, flush=True)


class Aws:
    def __init__(self, endpoint):
        self.endpoint = endpoint
        self.home = tempfile.mkdtemp(prefix="wharf-bg-bench-")
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION")}
        self.env.update({
            "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": "us-east-1", "AWS_PAGER": "",
            "AWS_CONFIG_FILE": os.path.join(self.home, "config"),
            "AWS_SHARED_CREDENTIALS_FILE": os.path.join(self.home, "credentials"),
        })

    def __call__(self, service, *args):
        out = subprocess.run(["aws", "--endpoint-url", self.endpoint, "--output", "json",
                              service, *args], env=self.env, capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(f"aws {service} {' '.join(args)} failed: {out.stderr}")
        return json.loads(out.stdout) if out.stdout.strip() else None


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def get(port):
    """GET / on one connection: (status, first word of the body) or (None, error)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        status = int(head.split()[1])
        words = body.split()
        return status, (words[0].decode() if words else "")
    except Exception as e:  # noqa: BLE001 - every failure counts
        return None, str(e)


class Load:
    """Client threads hammering a port; counts answers and failures, notes first sights."""

    def __init__(self, port, clients):
        self.port, self.stop = port, False
        self.ok = self.failed = 0
        self.errors = []
        self.first = {}
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(clients)]
        for t in self.threads:
            t.start()

    def run(self):
        while not self.stop:
            status, rev = get(self.port)
            with self.lock:
                if status == 200:
                    self.ok += 1
                    self.first.setdefault(rev, time.monotonic())
                else:
                    self.failed += 1
                    if len(self.errors) < 10:
                        self.errors.append(f"{status} {rev}")

    def finish(self):
        self.stop = True
        for t in self.threads:
            t.join()
        return self


def share(port, n, rev):
    hits = failed = 0
    for _ in range(n):
        status, r = get(port)
        if status != 200:
            failed += 1
        elif r == rev:
            hits += 1
    return hits * 100.0 / n, failed


def back_on(port, answer, asked):
    """Seconds from `asked` until the first of 200 answers in a row from `answer` (None if not
    within 30 s), and the requests that failed meanwhile."""
    streak, first, failed = 0, None, 0
    while streak < 200 and time.monotonic() - asked < 30:
        status, rev = get(port)
        if status != 200:
            failed += 1
        elif rev == answer:
            if streak == 0:
                first = time.monotonic()
            streak += 1
        else:
            streak = 0
    return ((first - asked) if first and streak >= 200 else None), failed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--cluster", required=True)
    a = ap.parse_args()
    aws = Aws(a.endpoint)
    cluster = a.cluster

    def tg(name):
        arn = aws("elbv2", "create-target-group", "--name", name, "--protocol", "HTTP",
                  "--port", "80", "--target-type", "instance", "--vpc-id", "vpc-1",
                  "--health-check-interval-seconds", "5", "--health-check-timeout-seconds", "2",
                  "--healthy-threshold-count", "2")["TargetGroups"][0]["TargetGroupArn"]
        aws("elbv2", "modify-target-group-attributes", "--target-group-arn", arn,
            "--attributes", "Key=deregistration_delay.timeout_seconds,Value=2")
        return arn

    blue_tg, green_tg = tg("bench-a"), tg("bench-b")
    lb = aws("elbv2", "create-load-balancer", "--name", "bench-bg", "--subnets", "subnet-1",
             "subnet-2")["LoadBalancers"][0]["LoadBalancerArn"]
    actions = json.dumps([{"Type": "forward", "ForwardConfig": {"TargetGroups": [
        {"TargetGroupArn": blue_tg, "Weight": 1}, {"TargetGroupArn": green_tg, "Weight": 0}]}}])

    def listener(port):
        arn = aws("elbv2", "create-listener", "--load-balancer-arn", lb, "--protocol", "HTTP",
                  "--port", str(port), "--default-actions", actions)["Listeners"][0]["ListenerArn"]
        rules = aws("elbv2", "describe-rules", "--listener-arn", arn)["Rules"]
        return next(r["RuleArn"] for r in rules if r["IsDefault"])

    prod_port, test_port = free_port(), free_port()
    prod_rule, test_rule = listener(prod_port), listener(test_port)

    revision = [0]

    def register(answer):
        script = (f'mkdir -p /www && echo "{answer} $(hostname)" > /www/index.html && '
                  "exec httpd -f -p 80 -h /www")
        td = {"family": "bench-bg", "networkMode": "bridge", "containerDefinitions": [{
            "name": "web", "image": IMAGE, "memory": 32, "essential": True, "stopTimeout": 2,
            "portMappings": [{"containerPort": 80, "hostPort": 0, "protocol": "tcp"}],
            "command": ["sh", "-c", script],
            "healthCheck": {"command": ["CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1/"],
                            "interval": 5, "timeout": 2, "retries": 2}}]}
        revision[0] += 1
        return aws("ecs", "register-task-definition", "--cli-input-json",
                   json.dumps(td))["taskDefinition"]["taskDefinitionArn"]

    def describe():
        return aws("ecs", "describe-services", "--cluster", cluster, "--services", "web")["services"][0]

    def wait_completed(n, timeout=240):
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            s = describe()
            d = s.get("deployments", [])
            if (len(d) == 1 and d[0].get("rolloutState") == "COMPLETED"
                    and d[0]["taskDefinition"].endswith(f":{n}") and s.get("runningCount") == 2):
                return
            time.sleep(0.5)
        raise SystemExit(f"revision {n} did not complete: {json.dumps(describe())[:2000]}")

    def weights():
        r = aws("elbv2", "describe-rules", "--rule-arns", prod_rule)["Rules"][0]
        groups = r["Actions"][0]["ForwardConfig"]["TargetGroups"]
        return {g["TargetGroupArn"]: g.get("Weight", 1) for g in groups}

    def configure(config):
        aws("ecs", "update-service", "--cluster", cluster, "--service", "web",
            "--deployment-configuration", json.dumps(config))

    lbs = json.dumps([{"targetGroupArn": blue_tg, "containerName": "web", "containerPort": 80,
                       "advancedConfiguration": {"alternateTargetGroupArn": green_tg,
                                                 "productionListenerRule": prod_rule,
                                                 "testListenerRule": test_rule,
                                                 "roleArn": "arn:aws:iam::000000000000:role/bg"}}])
    first = register("r1")
    aws("ecs", "create-service", "--cluster", cluster, "--service-name", "web",
        "--task-definition", first, "--desired-count", "2", "--load-balancers", lbs,
        "--deployment-configuration", json.dumps({"strategy": "BLUE_GREEN"}))
    wait_completed(1)
    while get(prod_port)[0] != 200:
        time.sleep(0.2)
    rows = []

    # 1. BLUE_GREEN.
    log("BLUE_GREEN deployment under load")
    prod, test = Load(prod_port, 3), Load(test_port, 1)
    time.sleep(0.5)
    td = register("r2")
    t0 = time.monotonic()
    aws("ecs", "update-service", "--cluster", cluster, "--service", "web",
        "--task-definition", td)
    wait_completed(2)
    took = time.monotonic() - t0
    time.sleep(1)
    prod.finish(), test.finish()
    test_first = test.first.get("r2")
    prod_first = prod.first.get("r2")
    lead = (prod_first - test_first) * 1000 if test_first and prod_first else None
    rows.append(("BLUE_GREEN: failed requests", f"{prod.failed} of {prod.ok + prod.failed}",
                 "0", prod.failed == 0))
    rows.append(("BLUE_GREEN: test listener serves green before production",
                 "yes, " + f"{lead:.0f} ms earlier" if lead is not None and lead > 0 else "no",
                 "yes", lead is not None and lead > 0))
    rows.append(("BLUE_GREEN: deployment, update to COMPLETED", f"{took:.1f} s", "-", True))

    def stepped(name, config, n, expected):
        log(f"{name} deployment under load")
        configure(config)
        load = Load(prod_port, 2)
        td = register(f"r{n}")
        green = f"r{n}"
        aws("ecs", "update-service", "--cluster", cluster, "--service", "web",
            "--task-definition", td)
        seen = []
        start = time.monotonic()
        while len(seen) < len(expected) and time.monotonic() - start < 900:
            w = weights()
            total = sum(w.values())
            on_green = [tg for tg in w if tg not in seen_groups_blue[0]]
            g = sum(w[tg] for tg in on_green)
            pct = round(g * 100.0 / total, 1) if total else 0.0
            if pct > 0 and (not seen or pct != seen[-1][0]):
                measured, failed = share(prod_port, 1000, green)
                log(f"  step at {pct}%: {measured:.1f}% of 1,000 requests on green")
                seen.append((pct, measured, failed))
            time.sleep(0.5)
        wait_completed(n)
        load.finish()
        for want, (pct, measured, failed) in zip(expected, seen):
            ok = abs(measured - want) <= 5 and failed == 0
            rows.append((f"{name}: step {want:g}%", f"{measured:.1f}% of 1,000 ({failed} failed)",
                         f"{want:g} ± 5", ok))
        rows.append((f"{name}: failed requests", f"{load.failed} of {load.ok + load.failed}",
                     "0", load.failed == 0))
        if len(seen) < len(expected):
            rows.append((f"{name}: steps seen", str([s[0] for s in seen]), str(expected), False))

    # The group blue is on before each deployment: green is the other one.
    seen_groups_blue = [set()]

    def blue_now():
        w = weights()
        seen_groups_blue[0] = {tg for tg, weight in w.items() if weight > 0}

    blue_now()
    stepped("CANARY", {"strategy": "CANARY", "canaryConfiguration":
                       {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 1}}, 3, [10, 100])
    blue_now()
    stepped("LINEAR", {"strategy": "LINEAR", "linearConfiguration":
                       {"stepPercent": 25.0, "stepBakeTimeInMinutes": 1}}, 4, [25, 50, 75, 100])

    # 4. Rollback at the canary step.
    log("CANARY stopped at its canary step (StopServiceDeployment ROLLBACK)")
    blue_now()
    configure({"strategy": "CANARY", "canaryConfiguration": {"canaryPercent": 10.0,
                                                             "canaryBakeTimeInMinutes": 10}})
    load = Load(prod_port, 2)
    td = register("r5")
    aws("ecs", "update-service", "--cluster", cluster, "--service", "web", "--task-definition", td)
    arn = None
    while arn is None:
        listed = aws("ecs", "list-service-deployments", "--cluster", cluster, "--service", "web")
        arns = [d["serviceDeploymentArn"] for d in listed["serviceDeployments"]]
        ds = aws("ecs", "describe-service-deployments", "--service-deployment-arns", *arns)
        for d in ds["serviceDeployments"]:
            if d.get("status") == "IN_PROGRESS" and d.get("lifecycleStage") == "PRODUCTION_TRAFFIC_SHIFT":
                arn = d["serviceDeploymentArn"]
        time.sleep(0.5)
    time.sleep(2)
    # Timed from before the CLI starts (an upper bound: the CLI's own start-up is in it).
    asked = time.monotonic()
    aws("ecs", "stop-service-deployment", "--service-deployment-arn", arn, "--stop-type", "ROLLBACK")
    answered = time.monotonic() - asked
    restored, failed = back_on(prod_port, "r4", asked)
    wait_completed(4)
    load.finish()
    rows.append(("Rollback: StopServiceDeployment to all traffic on blue",
                 (f"{restored * 1000:.0f} ms from starting the CLI call (the call itself took "
                  f"{answered * 1000:.0f} ms)") if restored is not None else "not restored",
                 "< 5,000 ms (one health check interval)", restored is not None and restored < 5))
    rows.append(("Rollback: failed requests", f"{load.failed + failed} of {load.ok + load.failed}",
                 "0", load.failed + failed == 0))

    # 4b. Rollback by a tripped alarm (deploymentConfiguration.alarms) at the canary step.
    log("CANARY rolled back by a CloudWatch alarm set to ALARM at its canary step")
    blue_now()
    aws("cloudwatch", "put-metric-alarm", "--alarm-name", "bench-bg-errors",
        "--namespace", "Bench", "--metric-name", "Errors", "--statistic", "Sum",
        "--period", "60", "--evaluation-periods", "1", "--threshold", "1",
        "--comparison-operator", "GreaterThanOrEqualToThreshold")
    configure({"strategy": "CANARY", "canaryConfiguration": {"canaryPercent": 10.0,
                                                             "canaryBakeTimeInMinutes": 10},
               "alarms": {"alarmNames": ["bench-bg-errors"], "enable": True, "rollback": True}})
    load = Load(prod_port, 2)
    td = register("r6")
    aws("ecs", "update-service", "--cluster", cluster, "--service", "web", "--task-definition", td)
    while True:
        w = weights()
        if any(weight > 0 for tg, weight in w.items() if tg not in seen_groups_blue[0]):
            break
        time.sleep(0.5)
    time.sleep(2)
    asked = time.monotonic()
    aws("cloudwatch", "set-alarm-state", "--alarm-name", "bench-bg-errors",
        "--state-value", "ALARM", "--state-reason", "bench: errors")
    answered = time.monotonic() - asked
    restored, failed = back_on(prod_port, "r4", asked)
    wait_completed(4)
    load.finish()
    rows.append(("Rollback: alarm set to ALARM to all traffic on blue",
                 (f"{restored * 1000:.0f} ms from starting the CLI call (the call itself took "
                  f"{answered * 1000:.0f} ms)") if restored is not None else "not restored",
                 "< 5,000 ms (one health check interval)", restored is not None and restored < 5))
    rows.append(("Alarm rollback: failed requests",
                 f"{load.failed + failed} of {load.ok + load.failed}", "0",
                 load.failed + failed == 0))

    # 5. CodeDeploy: a CODE_DEPLOY service, a linear deployment, then one stopped with rollback.
    log("CodeDeploy linear deployment (25% every minute) under load")
    cd_a, cd_b = tg("bench-cd-a"), tg("bench-cd-b")
    cd_port = free_port()
    cd_actions = json.dumps([{"Type": "forward", "ForwardConfig": {"TargetGroups": [
        {"TargetGroupArn": cd_a, "Weight": 1}, {"TargetGroupArn": cd_b, "Weight": 0}]}}])
    cd_listener = aws("elbv2", "create-listener", "--load-balancer-arn", lb, "--protocol", "HTTP",
                      "--port", str(cd_port), "--default-actions",
                      cd_actions)["Listeners"][0]["ListenerArn"]
    cd_rule = next(r["RuleArn"] for r in aws("elbv2", "describe-rules", "--listener-arn",
                                              cd_listener)["Rules"] if r["IsDefault"])
    cd_first = register("c1")
    aws("ecs", "create-service", "--cluster", cluster, "--service-name", "cdweb",
        "--task-definition", cd_first, "--desired-count", "2", "--deployment-controller",
        "type=CODE_DEPLOY", "--load-balancers",
        f"targetGroupArn={cd_a},containerName=web,containerPort=80")
    start = time.monotonic()
    while get(cd_port) != (200, "c1"):
        if time.monotonic() - start > 120:
            raise SystemExit("the CODE_DEPLOY service never answered")
        time.sleep(0.3)
    aws("deploy", "create-application", "--application-name", "bench", "--compute-platform", "ECS")
    aws("deploy", "create-deployment-config", "--deployment-config-name", "Linear25Every1",
        "--compute-platform", "ECS", "--traffic-routing-config",
        "type=TimeBasedLinear,timeBasedLinear={linearPercentage=25,linearInterval=1}")
    aws("deploy", "create-deployment-group", "--cli-input-json", json.dumps({
        "applicationName": "bench", "deploymentGroupName": "bench",
        "deploymentConfigName": "Linear25Every1",
        "serviceRoleArn": "arn:aws:iam::000000000000:role/codedeploy",
        "deploymentStyle": {"deploymentType": "BLUE_GREEN",
                            "deploymentOption": "WITH_TRAFFIC_CONTROL"},
        "blueGreenDeploymentConfiguration": {
            "terminateBlueInstancesOnDeploymentSuccess": {"action": "TERMINATE",
                                                          "terminationWaitTimeInMinutes": 0},
            "deploymentReadyOption": {"actionOnTimeout": "CONTINUE_DEPLOYMENT",
                                      "waitTimeInMinutes": 0}},
        "autoRollbackConfiguration": {"enabled": True, "events": ["DEPLOYMENT_STOP_ON_REQUEST"]},
        "loadBalancerInfo": {"targetGroupPairInfoList": [{
            "targetGroups": [{"name": "bench-cd-a"}, {"name": "bench-cd-b"}],
            "prodTrafficRoute": {"listenerArns": [cd_listener]}}]},
        "ecsServices": [{"serviceName": "cdweb", "clusterName": cluster}]}))

    def cd_deploy(answer):
        td = register(answer)
        content = json.dumps({"version": 0.0, "Resources": [{"TargetService": {
            "Type": "AWS::ECS::Service", "Properties": {
                "TaskDefinition": td,
                "LoadBalancerInfo": {"ContainerName": "web", "ContainerPort": 80}}}}]})
        return aws("deploy", "create-deployment", "--application-name", "bench",
                   "--deployment-group-name", "bench", "--revision",
                   json.dumps({"revisionType": "AppSpecContent",
                               "appSpecContent": {"content": content}}))["deploymentId"]

    def cd_status(dep):
        return aws("deploy", "get-deployment", "--deployment-id", dep)["deploymentInfo"]["status"]

    def cd_green_pct(green_group):
        r = aws("elbv2", "describe-rules", "--rule-arns", cd_rule)["Rules"][0]
        groups = r["Actions"][0]["ForwardConfig"]["TargetGroups"]
        total = sum(g.get("Weight", 1) for g in groups)
        g = sum(g.get("Weight", 1) for g in groups if g["TargetGroupArn"] == green_group)
        return round(g * 100.0 / total, 1) if total else 0.0

    load = Load(cd_port, 2)
    dep = cd_deploy("c2")
    seen = []
    start = time.monotonic()
    while time.monotonic() - start < 600:
        pct = cd_green_pct(cd_b)
        if pct > 0 and (not seen or pct != seen[-1][0]):
            measured, failed = share(cd_port, 1000, "c2")
            log(f"  step at {pct}%: {measured:.1f}% of 1,000 requests on the replacement")
            seen.append((pct, measured, failed))
        if cd_status(dep) in ("Succeeded", "Failed", "Stopped"):
            break
        time.sleep(0.5)
    status = cd_status(dep)
    load.finish()
    for want, (pct, measured, failed) in zip([25, 50, 75, 100], seen):
        rows.append((f"CodeDeploy linear: step {want}%", f"{measured:.1f}% of 1,000 ({failed} failed)",
                     f"{want} ± 5", abs(measured - want) <= 5 and failed == 0))
    rows.append(("CodeDeploy linear: status, failed requests",
                 f"{status}, {load.failed} of {load.ok + load.failed}", "Succeeded, 0",
                 status == "Succeeded" and load.failed == 0))

    log("CodeDeploy deployment stopped with rollback at its first step")
    load = Load(cd_port, 2)
    dep = cd_deploy("c3")
    while cd_green_pct(cd_a) <= 0:
        time.sleep(0.5)
    time.sleep(2)
    asked = time.monotonic()
    aws("deploy", "stop-deployment", "--deployment-id", dep, "--auto-rollback-enabled")
    answered = time.monotonic() - asked
    restored, failed = back_on(cd_port, "c2", asked)
    time.sleep(1)
    load.finish()
    rows.append(("CodeDeploy StopDeployment (rollback) to all traffic on the original",
                 (f"{restored * 1000:.0f} ms from starting the CLI call (the call itself took "
                  f"{answered * 1000:.0f} ms)") if restored is not None else "not restored",
                 "< 5,000 ms", restored is not None and restored < 5))
    rows.append(("CodeDeploy rollback: status, failed requests",
                 f"{cd_status(dep)}, {load.failed + failed} of {load.ok + load.failed}",
                 "Stopped, 0", cd_status(dep) == "Stopped" and load.failed + failed == 0))

    print("| Measure | Wharf | Budget | Met |")
    print("|---|---|---|---|")
    for name, value, budget, ok in rows:
        print(f"| {name} | {value} | {budget} | {'yes' if ok else 'NO'} |")


if __name__ == "__main__":
    main()
