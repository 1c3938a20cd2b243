//! `awslogs` on a real engine: what containers write arrives in the Logs API, in its
//! streams, in order, once, also across a crash and restart of the server and its agent.

use std::time::{Duration, Instant};

use serde_json::json;
use wharf_sdk_tests::aws_sdk_ecs::types::{LogConfiguration, LogDriver};

use crate::support::{sh_builder, unique, Ctx};

/// An awslogs configuration for `group`, stream prefix `ecs`, with `extra` options.
fn awslogs(group: &str, extra: &[(&str, &str)]) -> LogConfiguration {
    let mut b = LogConfiguration::builder()
        .log_driver(LogDriver::Awslogs)
        .options("awslogs-group", group)
        .options("awslogs-region", "us-east-1")
        .options("awslogs-stream-prefix", "ecs")
        .options("awslogs-create-group", "true");
    for (k, v) in extra {
        b = b.options(*k, *v);
    }
    b.build().expect("log configuration")
}

/// Every message of a stream, oldest first, read with GetLogEvents page by page as the
/// SDK paginator does (until the forward token comes back unchanged).
fn messages(ctx: &Ctx, group: &str, stream: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut body =
            json!({"logGroupName": group, "logStreamName": stream, "startFromHead": true});
        if let Some(t) = &token {
            body["nextToken"] = json!(t);
        }
        let (status, answer) =
            ctx.server.json_request("Logs_20140328.GetLogEvents", &body).expect("GetLogEvents");
        if status == 400 && answer["__type"] == "ResourceNotFoundException" {
            return out;
        }
        assert_eq!(status, 200, "GetLogEvents: {answer}");
        let events = answer["events"].as_array().cloned().unwrap_or_default();
        out.extend(events.iter().map(|e| e["message"].as_str().unwrap_or_default().to_owned()));
        let next = answer["nextForwardToken"].as_str().map(str::to_owned);
        if next.is_none() || next == token {
            return out;
        }
        token = next;
    }
}

/// Waits until a stream holds `n` messages, then a moment more to see that no more come;
/// returns them.
fn wait_for_messages(ctx: &Ctx, group: &str, stream: &str, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = messages(ctx, group, stream);
        if got.len() >= n {
            std::thread::sleep(Duration::from_millis(500));
            return messages(ctx, group, stream);
        }
        assert!(Instant::now() < deadline, "{group} {stream}: {} of {n} messages", got.len());
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test]
async fn container_output_arrives_in_its_stream_in_order_with_multiline_events() {
    let ctx = Ctx::start("awslogs").await;
    let group = format!("/ecs/{}", unique("awslogs"));
    let td = ctx
        .register(
            "awslogs",
            vec![
                sh_builder("burst", "echo first; echo oops >&2; seq 1 50000; echo last")
                    .log_configuration(awslogs(&group, &[("mode", "blocking")]))
                    .build(),
                sh_builder(
                    "trace",
                    "echo 'ERROR boom'; echo '  at a()'; echo '  at b()'; echo 'INFO fine'",
                )
                .essential(false)
                .log_configuration(awslogs(
                    &group,
                    &[("awslogs-multiline-pattern", "^(ERROR|INFO)")],
                ))
                .build(),
            ],
        )
        .await;
    let arn = ctx.run(&td).await.task_arn().unwrap().to_owned();
    let id = arn.rsplit('/').next().unwrap().to_owned();
    ctx.stopped(&arn).await;

    let burst = wait_for_messages(&ctx, &group, &format!("ecs/burst/{id}"), 50_003);
    assert_eq!(burst.len(), 50_003, "every line once");
    // Docker stamps stdout and stderr apart and a stream is in time order, so the
    // stderr line may land anywhere near the start; stdout's lines keep their order.
    assert_eq!(burst.iter().filter(|m| *m == "oops").count(), 1, "stderr too");
    let stdout: Vec<&str> = burst.iter().map(String::as_str).filter(|m| *m != "oops").collect();
    let mut expected = vec!["first".to_owned()];
    expected.extend((1..=50_000).map(|i| i.to_string()));
    expected.push("last".to_owned());
    assert!(
        stdout == expected.iter().map(String::as_str).collect::<Vec<_>>(),
        "the burst in order"
    );

    let trace = wait_for_messages(&ctx, &group, &format!("ecs/trace/{id}"), 2);
    assert_eq!(trace, ["ERROR boom\n  at a()\n  at b()\n", "INFO fine\n"]);

    // The group was created (awslogs-create-group) and holds both streams.
    let (_, groups) = ctx
        .server
        .json_request("Logs_20140328.DescribeLogStreams", &json!({"logGroupName": group}))
        .expect("DescribeLogStreams");
    let names: Vec<&str> = groups["logStreams"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["logStreamName"].as_str())
        .collect();
    assert_eq!(names, [format!("ecs/burst/{id}"), format!("ecs/trace/{id}")]);
}

#[tokio::test]
async fn a_crash_and_restart_mid_stream_loses_and_duplicates_nothing() {
    let mut ctx = Ctx::start("awslogsrestart").await;
    let group = format!("/ecs/{}", unique("restart"));
    // 30 blocks of 1,000 lines, a tenth of a second apart: about four seconds of output.
    let script =
        "for b in $(seq 0 29); do seq $((b * 1000 + 1)) $((b * 1000 + 1000)); sleep 0.1; done";
    let td = ctx
        .register(
            "awslogsrestart",
            vec![sh_builder("app", script)
                .log_configuration(awslogs(&group, &[("mode", "blocking")]))
                .build()],
        )
        .await;
    let arn = ctx.run(&td).await.task_arn().unwrap().to_owned();
    let stream = format!("ecs/app/{}", arn.rsplit('/').next().unwrap());
    ctx.running(&arn).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while messages(&ctx, &group, &stream).len() < 3_000 {
        assert!(Instant::now() < deadline, "output never started arriving");
        std::thread::sleep(Duration::from_millis(50));
    }

    // The server (and its agent) dies while the container is still writing; the
    // container goes on meanwhile.
    ctx.server.sigkill();
    std::thread::sleep(Duration::from_millis(1500));
    ctx.server.restart();
    ctx.reconnect().await;
    ctx.stopped(&arn).await;

    let got = wait_for_messages(&ctx, &group, &stream, 30_000);
    let expected: Vec<String> = (1..=30_000).map(|i| i.to_string()).collect();
    assert_eq!(got.len(), expected.len(), "every line exactly once");
    assert!(got == expected, "in order");
}

#[tokio::test]
async fn a_missing_log_group_fails_the_container_as_ecs_does() {
    let ctx = Ctx::start("awslogsmissing").await;
    let group = format!("/ecs/{}", unique("missing"));
    let config = LogConfiguration::builder()
        .log_driver(LogDriver::Awslogs)
        .options("awslogs-group", &group)
        .options("awslogs-region", "us-east-1")
        .options("awslogs-stream-prefix", "ecs")
        .build()
        .expect("log configuration");
    let td = ctx
        .register(
            "awslogsmissing",
            vec![sh_builder("app", "echo hi").log_configuration(config).build()],
        )
        .await;
    let arn = ctx.run(&td).await.task_arn().unwrap().to_owned();
    let task = ctx.stopped(&arn).await;
    let reason = task.stopped_reason().unwrap_or_default();
    assert_eq!(
        reason,
        "CannotStartContainerError: Error response from daemon: failed to initialize logging \
         driver: failed to create Cloudwatch log stream: ResourceNotFoundException: The \
         specified log group does not exist."
    );
}
