//! `GET /_wharf/v1/changes`: a stream of notices, one line of JSON each, as
//! chosen tasks change and chosen log groups get events, so a follower
//! (`wharf run`) reads again at once instead of polling. A notice says only
//! *what* changed; the follower reads it through the ECS and Logs APIs as
//! before. The store is listened to before the answer's headers go out: a
//! follower that waits for them before its first read misses nothing.

use std::convert::Infallible;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::broadcast::Receiver;
use wharf_store::logs::Appended;
use wharf_store::TaskChanged;

use crate::context::AppState;

/// The routes, to merge into the server's router.
pub fn routes() -> Router<AppState> {
    Router::new().route("/_wharf/v1/changes", get(changes))
}

/// What a follower wants to hear of: `region` (default `us-east-1`), any
/// number of `task` (ARN or ID) and `group` (log group name).
#[derive(Debug, Default, PartialEq)]
struct Filter {
    region: String,
    tasks: Vec<String>,
    groups: Vec<String>,
}

impl Filter {
    fn parse(query: &str) -> Self {
        let mut f = Filter { region: "us-east-1".to_owned(), ..Filter::default() };
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            match &*k {
                "region" => f.region = v.into_owned(),
                // An ARN's ID is its last part.
                "task" => f.tasks.push(v.rsplit('/').next().unwrap_or_default().to_owned()),
                "group" => f.groups.push(v.into_owned()),
                _ => {}
            }
        }
        f
    }

    fn task(&self, c: &TaskChanged) -> bool {
        c.region == self.region && self.tasks.contains(&c.id)
    }

    fn log(&self, a: &Appended) -> bool {
        a.region == self.region && self.groups.contains(&a.group)
    }
}

/// The broadcasts one answer listens to.
struct Listening {
    filter: Filter,
    tasks: wharf_store::TaskFeed,
    appends: Receiver<Appended>,
}

/// One notice line: `{"task":ID}`, `{"log":{"group":G,"stream":S}}`, or
/// `{"lagged":true}` when notices were missed (read everything again).
async fn next_line(listening: &mut Listening) -> Option<String> {
    loop {
        let notice = tokio::select! {
            r = listening.tasks.recv() => match r {
                Ok(c) if listening.filter.task(&c) => serde_json::json!({"task": c.id}),
                Ok(_) => continue,
                Err(RecvError::Lagged(_)) => serde_json::json!({"lagged": true}),
                Err(RecvError::Closed) => return None,
            },
            r = listening.appends.recv() => match r {
                Ok(a) if listening.filter.log(&a) => {
                    serde_json::json!({"log": {"group": a.group, "stream": a.stream}})
                }
                Ok(_) => continue,
                Err(RecvError::Lagged(_)) => serde_json::json!({"lagged": true}),
                Err(RecvError::Closed) => return None,
            },
        };
        return Some(format!("{notice}\n"));
    }
}

/// `GET /_wharf/v1/changes?region=R&task=ARN&group=G…`: newline-delimited
/// JSON notices until the caller goes away. A server that checks signatures
/// serves it to callers allowed `ecs:DescribeTasks` and `logs:GetLogEvents`.
async fn changes(
    State(state): State<AppState>,
    method: http::Method,
    uri: http::Uri,
    headers: http::HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    for action in ["ecs:DescribeTasks", "logs:GetLogEvents"] {
        if let Some(refused) =
            crate::dispatch::refused_read(&state, &method, &uri, &headers, action)
        {
            return refused;
        }
    }
    let listening = Listening {
        filter: Filter::parse(query.as_deref().unwrap_or_default()),
        tasks: state.ops.store.task_changes(),
        appends: state.logs.appends(),
    };
    let stream = futures_util::stream::unfold(listening, |mut l| async move {
        let line = next_line(&mut l).await?;
        Some((Ok::<_, Infallible>(Bytes::from(line)), l))
    });
    ([(http::header::CONTENT_TYPE, "application/x-ndjson")], Body::from_stream(stream))
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_takes_repeated_tasks_and_groups_and_arns_by_their_id() {
        let f = Filter::parse(
            "region=eu-west-1&task=arn%3Aaws%3Aecs%3Aeu-west-1%3A0%3Atask%2Fdefault%2Fabc&task=def&group=%2Fecs%2Fweb",
        );
        assert_eq!(
            f,
            Filter {
                region: "eu-west-1".into(),
                tasks: vec!["abc".into(), "def".into()],
                groups: vec!["/ecs/web".into()],
            }
        );
        let change = |region: &str, id: &str| TaskChanged {
            region: region.into(),
            cluster: "default".into(),
            id: id.into(),
            instance_id: None,
            instance_cluster: None,
            service: None,
        };
        assert!(f.task(&change("eu-west-1", "abc")));
        assert!(!f.task(&change("us-east-1", "abc")), "another region");
        assert!(!f.task(&change("eu-west-1", "xyz")), "another task");
        let append = |group: &str| Appended {
            region: "eu-west-1".into(),
            group: group.into(),
            stream: "s".into(),
        };
        assert!(f.log(&append("/ecs/web")));
        assert!(!f.log(&append("/ecs/other")));
        assert_eq!(Filter::parse("").region, "us-east-1");
    }
}
