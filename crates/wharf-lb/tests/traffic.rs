//! What a real listener serves is counted by load balancer, target group and the status
//! sent: targets' answers, the load balancer's own 502 and 503, fixed responses, and
//! connections to targets that could not be made.

mod common;

use std::time::Duration;

use common::*;
use tokio::sync::mpsc;
use wharf_lb::{Action, Condition, FixedResponse, Rule, TargetState};

const LISTENER: &str =
    "arn:aws:elasticloadbalancing:us-east-1:000000000000:listener/app/front/50dc6c495c0c9188/f2f7dc8efc522ab2";
const WEB: &str =
    "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/web/943f017f100becff";
const EMPTY: &str =
    "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/empty/73e2d6bc24d8a067";

fn encoded(lb: &wharf_lb::LoadBalancer) -> String {
    let mut encoder = wharf_metrics::Encoder::new();
    lb.traffic().encode(&mut encoder);
    encoder.finish()
}

fn requests(text: &str, target_group: &str, code: u16) -> u64 {
    let prefix = format!(
        "wharf_lb_requests_total{{load_balancer=\"app/front/50dc6c495c0c9188\",target_group=\"{target_group}\",code=\"{code}\"}} "
    );
    text.lines().find_map(|l| l.strip_prefix(prefix.as_str())).map_or(0, |v| v.parse().unwrap())
}

fn line_value(text: &str, prefix: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(prefix)).map(|v| v.trim().parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_counted_by_target_group_and_status_sent() {
    let (held, _held) = mpsc::unbounded_channel();
    let a = TestTarget::start("a", held).await;
    let (lb, mut reports) = balancer();
    let port = free_port();
    let mut front = listener(port, Action::forward(WEB));
    front.arn = LISTENER.to_owned();
    front.rules = vec![
        Rule {
            arn: "r1".into(),
            priority: 1,
            conditions: vec![Condition::PathPattern(vec!["/empty/*".into()])],
            action: Action::forward(EMPTY),
        },
        Rule {
            arn: "r2".into(),
            priority: 2,
            conditions: vec![Condition::PathPattern(vec!["/teapot".into()])],
            action: Action::FixedResponse(FixedResponse {
                status_code: 418,
                content_type: None,
                message_body: None,
            }),
        },
    ];
    lb.apply(config(vec![front.clone()], vec![group(WEB, &[&a]), group(EMPTY, &[])]))
        .await
        .expect("applied");
    reports.until("a", TargetState::Healthy).await;
    let client = client();

    for _ in 0..3 {
        assert_eq!(get(&client, port, "/").await.0, 200);
    }
    assert_eq!(get(&client, port, "/close").await.0, 502);
    assert_eq!(get(&client, port, "/empty/x").await.0, 503);
    assert_eq!(get(&client, port, "/teapot").await.0, 418);
    assert_eq!(get(&client, port, "/teapot").await.0, 418);

    let text = encoded(&lb);
    let web = "targetgroup/web/943f017f100becff";
    assert_eq!(requests(&text, web, 200), 3, "{text}");
    assert_eq!(requests(&text, web, 502), 1, "{text}");
    assert_eq!(requests(&text, "targetgroup/empty/73e2d6bc24d8a067", 503), 1, "{text}");
    assert_eq!(requests(&text, "", 418), 2, "{text}");
    let labels =
        format!("{{load_balancer=\"app/front/50dc6c495c0c9188\",target_group=\"{web}\"}} ");
    // Three answers from the target (the closed connection sent none).
    let count = format!("wharf_lb_request_duration_seconds_count{labels}");
    assert_eq!(line_value(&text, &count), Some(3.0), "{text}");
    let sum = format!("wharf_lb_request_duration_seconds_sum{labels}");
    let sum = line_value(&text, &sum).expect("a sum");
    assert!(sum > 0.0 && sum < 3.0, "{sum}");
    let errors = format!("wharf_lb_target_connection_errors_total{labels}");
    assert_eq!(line_value(&text, &errors), Some(0.0), "{text}");

    // A target nobody listens on: 502, and a connection error; the counts go on.
    let dead = free_port();
    let mut g = group(WEB, &[&a]);
    g.targets[0].port = Some(dead);
    g.health_check.enabled = false;
    lb.apply(config(vec![front], vec![g, group(EMPTY, &[])])).await.expect("applied");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(get(&client, port, "/").await.0, 502);
    let text = encoded(&lb);
    assert_eq!(requests(&text, web, 200), 3, "counters survive a new configuration: {text}");
    assert_eq!(requests(&text, web, 502), 2, "{text}");
    assert_eq!(line_value(&text, &errors), Some(1.0), "{text}");

    // A listener gone: its counters stay while connections it accepted may still count,
    // and go at the next configuration once they are closed.
    lb.apply(config(vec![], vec![])).await.expect("applied");
    assert_eq!(requests(&encoded(&lb), web, 200), 3);
    drop(client);
    tokio::time::sleep(Duration::from_millis(200)).await;
    lb.apply(config(vec![], vec![])).await.expect("applied");
    let text = encoded(&lb);
    assert_eq!(requests(&text, web, 200), 0, "{text}");
}
