//! Follows one container's output and ships it, until the output ends.
//!
//! Two halves joined by a channel: the reader follows the engine's log and
//! puts events together; the sender stores them through the server link,
//! as many as have gathered per call (so a quiet container's line is stored
//! at once and a busy one's in large batches), each call with the cursor
//! after its last event. While a call is being retried the reader goes on
//! until the buffer is full: then, in `blocking` mode, it waits (nothing is
//! lost: the output waits on disk in the engine's log); in `non-blocking`
//! mode it drops what does not fit, as Docker's ring buffer does.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{FutureExt, StreamExt};
use tokio::sync::{mpsc, watch, Semaphore};
use wharf_model::agent::{LogBatch, LogDestination, ShippedEvent};
use wharf_model::clock::Clock;

use super::assemble::{Assembler, Piece};
use super::cursor::Cursor;
use super::options::{AwsLogsOptions, Mode};
use crate::link::{LinkError, ServerLink};
use crate::runtime::Runtime;

/// What may wait to be stored in `blocking` mode before reading pauses.
const BLOCKING_BUFFER_BYTES: usize = 16 * 1024 * 1024;
/// At most this many ready messages go into one hand-over.
const MAX_MESSAGES_PER_PIECE: usize = 4096;
/// At most this many events per call to the server.
const MAX_EVENTS_PER_CALL: usize = 20_000;
/// At most about this many bytes per call to the server.
const MAX_BYTES_PER_CALL: usize = 4 * 1024 * 1024;
/// The longest wait between two tries of a call the server could not take.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// One container to ship.
#[derive(Debug, Clone)]
pub struct ShipperConfig {
    /// Its Docker container ID.
    pub container_id: String,
    /// Where its output goes.
    pub destination: LogDestination,
    /// Its awslogs options.
    pub options: AwsLogsOptions,
    /// Turns true once the container has stopped (a followed json-file read
    /// ends there; the engine's log API ends by itself).
    pub stopped: watch::Receiver<bool>,
}

/// Ships a container's output until it has stopped and all of it is stored
/// (or dropped, in `non-blocking` mode). Resumes after what the server has
/// from an earlier run.
pub async fn ship(
    runtime: Arc<dyn Runtime>,
    link: Arc<dyn ServerLink>,
    clock: Arc<dyn Clock>,
    config: ShipperConfig,
) {
    let cursor = stored_cursor(&*link, &config.destination).await;
    let budget = match config.options.mode {
        Mode::Blocking => BLOCKING_BUFFER_BYTES,
        Mode::NonBlocking { max_buffer_bytes } => max_buffer_bytes,
    };
    let permits = Arc::new(Semaphore::new(budget));
    let (tx, rx) = mpsc::unbounded_channel::<(Piece, usize)>();
    let sender =
        tokio::spawn(send(link, config.destination.clone(), rx, permits.clone(), cursor.encode()));
    let file = runtime.json_log_file(&config.container_id).await;
    tracing::debug!(container = %config.container_id, file = ?file, "shipping awslogs output");
    read(&*runtime, file.as_deref(), &*clock, &config, cursor, &tx, &permits, budget).await;
    drop(tx);
    let _ = sender.await;
}

/// The cursor the server holds for the stream; the start if none (or if
/// the server refuses to say).
async fn stored_cursor(link: &dyn ServerLink, destination: &LogDestination) -> Cursor {
    let mut backoff = Duration::from_millis(100);
    loop {
        match link.log_cursor(destination).await {
            Ok(Some(c)) => return Cursor::decode(&c).unwrap_or(Cursor::START),
            Ok(None) => return Cursor::START,
            Err(LinkError::Refused(e)) => {
                tracing::warn!(error = %e, stream = %destination.stream, "no stored log position; shipping from the start");
                return Cursor::START;
            }
            Err(LinkError::Unavailable(_)) => {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// The reader half: follows the log from `cursor`, reading again from the
/// last piece handed over if the engine's stream breaks.
#[allow(clippy::too_many_arguments)]
async fn read(
    runtime: &dyn Runtime,
    file: Option<&std::path::Path>,
    clock: &dyn Clock,
    config: &ShipperConfig,
    mut cursor: Cursor,
    tx: &mpsc::UnboundedSender<(Piece, usize)>,
    permits: &Semaphore,
    budget: usize,
) {
    let flush_ms = i64::try_from(config.options.flush_interval.as_millis()).unwrap_or(i64::MAX);
    let mut dropped: u64 = 0;
    let handover = |piece: Piece, cursor: &mut Cursor| {
        *cursor = piece.cursor;
        let bytes = piece.events.iter().map(|e| e.message.len() + 26).sum::<usize>().min(budget);
        (piece, bytes)
    };
    // Once a followed read ends (the container stopped), one more read
    // without following, from the last piece handed over, makes sure of the
    // rest: Docker may end a followed read early.
    let mut last_pass = false;
    'reads: loop {
        let mut assembler = Assembler::new(config.options.multiline.clone(), flush_ms, cursor);
        let mut messages = match file {
            Some(path) => super::jsonfile::follow(
                path.to_owned(),
                cursor.since,
                !last_pass,
                config.stopped.clone(),
            ),
            None => runtime.logs(&config.container_id, cursor.since, !last_pass),
        };
        // The messages of this read that were handed over before.
        let (resume_skip, mut seen) = (cursor.skip, 0u64);
        loop {
            let flush_at = assembler.next_flush_ms();
            let wait = async {
                match flush_at {
                    Some(at) => {
                        let ms = (at - clock.now_millis()).max(0);
                        tokio::time::sleep(Duration::from_millis(ms as u64)).await;
                    }
                    None => std::future::pending().await,
                }
            };
            let first = tokio::select! {
                next = messages.next() => next,
                () = wait => {
                    if let Some(piece) = assembler.flush_due(clock.now_millis()) {
                        let (piece, bytes) = handover(piece, &mut cursor);
                        offer(tx, permits, config.options.mode, piece, bytes, &mut dropped).await;
                    }
                    continue;
                }
            };
            // This message and every one already waiting become one piece, so
            // that a busy container costs one hand-over per batch, not per line.
            let mut batch: Option<Piece> = None;
            let (mut next, mut taken) = (first, 0usize);
            let stop = loop {
                match next {
                    Some(Ok(m)) => {
                        seen += 1;
                        if seen <= resume_skip {
                            assembler.skip(&m);
                        } else {
                            for piece in assembler.push(&m) {
                                merge(&mut batch, piece);
                            }
                        }
                    }
                    Some(Err(e)) => break Stop::Failed(e),
                    None => break Stop::Ended,
                }
                taken += 1;
                if taken >= MAX_MESSAGES_PER_PIECE {
                    break Stop::Ready;
                }
                match messages.next().now_or_never() {
                    Some(n) => next = n,
                    None => break Stop::Ready,
                }
            };
            if let Stop::Failed(e) = stop {
                // What this batch read is read again from the last hand-over.
                tracing::warn!(error = %e, container = %config.container_id, "reading a container's output failed; reading again");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue 'reads;
            }
            if let Some(piece) = batch {
                let (piece, bytes) = handover(piece, &mut cursor);
                offer(tx, permits, config.options.mode, piece, bytes, &mut dropped).await;
            }
            if let Stop::Ended = stop {
                if !last_pass {
                    last_pass = true;
                    continue 'reads;
                }
                if let Some(last) = assembler.finish() {
                    let (piece, bytes) = handover(last, &mut cursor);
                    offer(tx, permits, config.options.mode, piece, bytes, &mut dropped).await;
                }
                break 'reads;
            }
        }
    }
    if dropped > 0 {
        tracing::warn!(dropped, container = %config.container_id, "non-blocking awslogs dropped log events: its buffer was full");
    }
}

/// Why a run of ready messages ended.
enum Stop {
    /// No more are ready yet (or the batch is full).
    Ready,
    /// The engine's stream failed.
    Failed(crate::runtime::RuntimeError),
    /// The engine's stream ended.
    Ended,
}

/// Adds a piece to a batch: its events after the batch's, its cursor the batch's.
fn merge(batch: &mut Option<Piece>, piece: Piece) {
    match batch {
        Some(b) => {
            b.events.extend(piece.events);
            b.cursor = piece.cursor;
        }
        None => *batch = Some(piece),
    }
}

/// Hands a piece to the sender: waiting for room in `blocking` mode,
/// dropping its events when there is none in `non-blocking` mode (its
/// cursor still goes, so that the position stays exact).
async fn offer(
    tx: &mpsc::UnboundedSender<(Piece, usize)>,
    permits: &Semaphore,
    mode: Mode,
    mut piece: Piece,
    bytes: usize,
    dropped: &mut u64,
) {
    let permits_needed = u32::try_from(bytes).unwrap_or(u32::MAX);
    let granted = match mode {
        Mode::Blocking => permits.acquire_many(permits_needed).await.ok(),
        Mode::NonBlocking { .. } => permits.try_acquire_many(permits_needed).ok(),
    };
    let bytes = match granted {
        Some(p) => {
            p.forget();
            bytes
        }
        None => {
            *dropped += piece.events.len() as u64;
            piece.events.clear();
            0
        }
    };
    let _ = tx.send((piece, bytes));
}

/// The sender half: stores what has gathered, one call at a time, retrying
/// while the server is unavailable.
async fn send(
    link: Arc<dyn ServerLink>,
    destination: LogDestination,
    mut rx: mpsc::UnboundedReceiver<(Piece, usize)>,
    permits: Arc<Semaphore>,
    mut after: String,
) {
    while let Some(first) = rx.recv().await {
        let mut events: Vec<ShippedEvent> = Vec::new();
        let (mut cursor, mut bytes) = (first.0.cursor, first.1);
        let mut size = 0usize;
        events.extend(first.0.events);
        while events.len() < MAX_EVENTS_PER_CALL && size < MAX_BYTES_PER_CALL {
            let Ok((piece, b)) = rx.try_recv() else { break };
            size += piece.events.iter().map(|e| e.message.len()).sum::<usize>();
            events.extend(piece.events);
            cursor = piece.cursor;
            bytes += b;
        }
        let batch = LogBatch {
            destination: destination.clone(),
            events,
            cursor: cursor.encode(),
            after: Some(after.clone()),
        };
        let mut backoff = Duration::from_millis(100);
        loop {
            match link.ship_logs(batch.clone()).await {
                Ok(()) => {
                    after = batch.cursor.clone();
                    break;
                }
                Err(LinkError::Refused(e)) => {
                    tracing::warn!(error = %e, group = %destination.group, stream = %destination.stream, "the server refused log events; they are dropped");
                    break;
                }
                Err(LinkError::Unavailable(e)) => {
                    tracing::debug!(error = %e, "log events not stored; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
        permits.add_permits(bytes);
    }
}
