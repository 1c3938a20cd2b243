//! What the agent calls to ship a container's stdout and stderr: the stream
//! made ready before the container starts, appends with the agent's resume
//! cursor in the same transaction, and the cursor read back after a restart.
//! Events appended here are visible to GetLogEvents and FilterLogEvents as
//! soon as [`append`] returns.

use wharf_model::logs::{self as rules, LogsError};
use wharf_store::logs::{Append, NewGroup};

use crate::context::AppState;
use crate::protocol::ApiError;

pub use wharf_model::agent::LogDestination;

/// Checks a destination's names as CreateLogGroup and CreateLogStream would.
fn check(dest: &LogDestination) -> Result<(), LogsError> {
    rules::validate_group_name("logGroupName", &dest.group)?;
    rules::validate_stream_name("logStreamName", &dest.stream)
}

/// The group a destination's `awslogs-create-group` makes.
fn new_group(dest: &LogDestination, now: i64) -> NewGroup {
    NewGroup {
        name: dest.group.clone(),
        created: now,
        class: "STANDARD".into(),
        kms_key_id: None,
        tags: Default::default(),
    }
}

/// Before the container starts: makes sure the stream exists (and the
/// group, when `create_group`, as `awslogs-create-group: true` asks). A
/// missing group without `create_group` is CloudWatch's
/// `ResourceNotFoundException` "The specified log group does not exist.".
pub async fn prepare_stream(
    state: &AppState,
    dest: &LogDestination,
    create_group: bool,
) -> Result<(), ApiError> {
    check(dest)?;
    let group = new_group(dest, state.ops.clock.now_millis());
    state
        .logs
        .ensure_stream(&dest.region, group, &dest.stream, create_group)
        .await
        .map_err(LogsError::from)?;
    Ok(())
}

/// Appends events (timestamp ms, message) to the stream and stores `cursor`
/// (the agent's opaque position in the container's output) on the stream in
/// the same transaction, so after a crash the cursor and the events agree.
/// Any number of events: PutLogEvents' per-call limits do not apply here.
/// A batch sent again (the stream holds its `cursor`, and not the `after` it
/// was read from) was stored before: it is acknowledged and not stored twice.
pub async fn append(
    state: &AppState,
    dest: &LogDestination,
    events: Vec<(i64, String)>,
    cursor: String,
    after: Option<String>,
) -> Result<(), ApiError> {
    check(dest)?;
    if let Some(after) = after {
        let stored =
            state.logs.cursor(&dest.region, &dest.group, &dest.stream).map_err(LogsError::from)?;
        if stored.as_deref() == Some(cursor.as_str()) && stored.as_deref() != Some(after.as_str()) {
            return Ok(());
        }
    }
    let now = state.ops.clock.now_millis();
    let append = Append {
        group: new_group(dest, now),
        stream: dest.stream.clone(),
        create_group: false,
        create_stream: false,
        events,
        ingested: now,
        cursor: Some(cursor),
    };
    state.logs.append(&dest.region, append).await.map_err(LogsError::from)?;
    Ok(())
}

/// The cursor last stored with [`append`], if any.
pub async fn cursor(state: &AppState, dest: &LogDestination) -> Result<Option<String>, ApiError> {
    check(dest)?;
    Ok(state.logs.cursor(&dest.region, &dest.group, &dest.stream).map_err(LogsError::from)?)
}
