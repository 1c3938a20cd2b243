//! etcd's v3 messages as Wharf's client holds them: the requests it sends
//! and the answers it reads. [`super::proto`] encodes and decodes them in
//! protobuf, as etcd's gRPC services take and give them; the writer, the
//! cache and the election use these types alone.

/// A key or a value: bytes, as etcd holds them.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Blob(pub Vec<u8>);

impl From<&str> for Blob {
    fn from(s: &str) -> Self {
        Self(s.as_bytes().to_vec())
    }
}

impl From<String> for Blob {
    fn from(s: String) -> Self {
        Self(s.into_bytes())
    }
}

/// The header of every answer.
#[derive(Debug, Clone, Default)]
pub struct Header {
    /// The store's revision when the request was served.
    pub revision: i64,
    /// The Raft term of the member that answered.
    pub raft_term: i64,
    /// The member that answered.
    pub member_id: u64,
}

/// One key with its value and revisions.
#[derive(Debug, Clone, Default)]
pub struct KeyValue {
    /// The key.
    pub key: Blob,
    /// The revision that created it (0: it does not exist).
    pub create_revision: i64,
    /// The revision of its last change.
    pub mod_revision: i64,
    /// How many times it was written since its creation.
    pub version: i64,
    /// The value.
    pub value: Blob,
    /// The lease it is attached to (0: none).
    pub lease: i64,
}

/// `RangeRequest`.
#[derive(Debug, Clone, Default)]
pub struct RangeRequest {
    /// The first key.
    pub key: Blob,
    /// The end of the range (exclusive); empty: the key alone.
    pub range_end: Option<Blob>,
    /// At most this many keys (0: no limit).
    pub limit: i64,
    /// Read at this revision (0: the latest).
    pub revision: i64,
    /// Served by the member alone, without a quorum.
    pub serializable: bool,
    /// Keys without values.
    pub keys_only: bool,
    /// Only the count.
    pub count_only: bool,
}

/// `RangeResponse`.
#[derive(Debug, Clone, Default)]
pub struct RangeResponse {
    /// The header.
    pub header: Header,
    /// The keys found.
    pub kvs: Vec<KeyValue>,
    /// Whether more keys lie beyond `limit`.
    pub more: bool,
    /// How many keys the range holds.
    pub count: i64,
}

/// `PutRequest`.
#[derive(Debug, Clone, Default)]
pub struct PutRequest {
    /// The key.
    pub key: Blob,
    /// The value.
    pub value: Blob,
    /// Attach it to this lease (0: none).
    pub lease: i64,
}

/// `DeleteRangeRequest`.
#[derive(Debug, Clone, Default)]
pub struct DeleteRangeRequest {
    /// The first key.
    pub key: Blob,
    /// The end of the range (exclusive); none: the key alone.
    pub range_end: Option<Blob>,
}

/// One operation of a transaction.
#[derive(Debug, Clone)]
pub enum RequestOp {
    /// A read.
    Range(RangeRequest),
    /// A write.
    Put(PutRequest),
    /// A deletion.
    Delete(DeleteRangeRequest),
}

/// What a comparison looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareTarget {
    /// The key's version.
    Version,
    /// Its create revision.
    Create,
    /// Its last modification's revision.
    Mod,
    /// Its value.
    Value,
    /// Its lease.
    Lease,
}

/// How a comparison compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareResult {
    /// Equal.
    Equal,
    /// Greater than the given value.
    Greater,
    /// Less than the given value.
    Less,
    /// Not equal.
    NotEqual,
}

/// One comparison of a transaction. A key that does not exist compares as
/// revision 0, version 0 and lease 0; with `range_end`, every key of the
/// range must pass.
#[derive(Debug, Clone)]
pub struct Compare {
    /// How.
    pub result: CompareResult,
    /// What.
    pub target: CompareTarget,
    /// The key.
    pub key: Blob,
    /// The end of a range of keys (exclusive).
    pub range_end: Option<Blob>,
    /// The value compared with.
    pub operand: Operand,
}

/// The value a comparison compares with.
#[derive(Debug, Clone)]
pub enum Operand {
    /// A create revision.
    Create(i64),
    /// A modification revision.
    Mod(i64),
    /// A version.
    Version(i64),
    /// A lease id.
    Lease(i64),
}

impl Compare {
    /// `key`'s last modification was at `revision` (0: it does not exist).
    pub fn mod_is(key: Blob, revision: i64) -> Self {
        Self {
            result: CompareResult::Equal,
            target: CompareTarget::Mod,
            key,
            range_end: None,
            operand: Operand::Mod(revision),
        }
    }

    /// `key` was created at `revision` (0: it does not exist).
    pub fn created_at(key: Blob, revision: i64) -> Self {
        Self {
            result: CompareResult::Equal,
            target: CompareTarget::Create,
            key,
            range_end: None,
            operand: Operand::Create(revision),
        }
    }

    /// No key in `[key, range_end)` changed after `revision`.
    pub fn range_unchanged_since(key: Blob, range_end: Blob, revision: i64) -> Self {
        Self {
            result: CompareResult::Less,
            target: CompareTarget::Mod,
            key,
            range_end: Some(range_end),
            operand: Operand::Mod(revision + 1),
        }
    }
}

/// `TxnRequest`.
#[derive(Debug, Clone, Default)]
pub struct TxnRequest {
    /// All must hold for `success` to run; else `failure` runs.
    pub compare: Vec<Compare>,
    /// Run when every comparison holds.
    pub success: Vec<RequestOp>,
    /// Run otherwise.
    pub failure: Vec<RequestOp>,
}

/// One answer of a transaction's operations.
#[derive(Debug, Clone)]
pub struct ResponseOp {
    /// The answer of a read.
    pub response_range: Option<RangeResponse>,
}

/// `TxnResponse`.
#[derive(Debug, Clone, Default)]
pub struct TxnResponse {
    /// The header: its revision is the transaction's when it wrote.
    pub header: Header,
    /// Whether the comparisons held.
    pub succeeded: bool,
    /// The answers of the operations that ran.
    pub responses: Vec<ResponseOp>,
}

/// `WatchCreateRequest`.
#[derive(Debug, Clone, Default)]
pub struct WatchCreateRequest {
    /// The first key.
    pub key: Blob,
    /// The end of the range (exclusive).
    pub range_end: Option<Blob>,
    /// Events from this revision on (0: from now).
    pub start_revision: i64,
    /// Ask for periodic progress notices (an empty answer with the revision).
    pub progress_notify: bool,
}

/// What happened to a key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum EventType {
    /// Created or changed.
    #[default]
    Put,
    /// Deleted.
    Delete,
}

/// One change seen by a watch.
#[derive(Debug, Clone, Default)]
pub struct Event {
    /// Put or delete.
    pub kind: EventType,
    /// The key after the change (only key and `mod_revision` for a delete).
    pub kv: KeyValue,
}

/// `WatchResponse`.
#[derive(Debug, Clone, Default)]
pub struct WatchResponse {
    /// The header.
    pub header: Header,
    /// Set on the answer that confirms the watch.
    pub created: bool,
    /// Set when the watch ended (compaction, an error).
    pub canceled: bool,
    /// With `canceled`: the revision compacted, if the start was older.
    pub compact_revision: i64,
    /// Why it was canceled.
    pub cancel_reason: String,
    /// The changes, in revision order.
    pub events: Vec<Event>,
}

/// `LeaseGrantResponse`.
#[derive(Debug, Clone, Default)]
pub struct LeaseGrantResponse {
    /// The header.
    pub header: Header,
    /// The lease's id.
    pub id: i64,
    /// Its time to live as granted, in seconds.
    pub ttl: i64,
    /// Why it was not granted.
    pub error: String,
}

/// `LeaseKeepAliveResponse`.
#[derive(Debug, Clone, Default)]
pub struct LeaseKeepAliveResponse {
    /// The header.
    pub header: Header,
    /// The lease.
    pub id: i64,
    /// Its new time to live, in seconds; 0: the lease is gone.
    pub ttl: i64,
}

/// `StatusResponse`, the parts Wharf reads.
#[derive(Debug, Clone, Default)]
pub struct StatusResponse {
    /// The header (its `member_id`: the member that answered).
    pub header: Header,
    /// The member that leads, as that member knows it (0: none).
    pub leader: u64,
}

/// gRPC status codes that say a request was certainly not applied.
pub mod code {
    /// The request was malformed (too many operations, too large, ...).
    pub const INVALID_ARGUMENT: i32 = 3;
    /// A precondition failed (a lease that does not exist, ...).
    pub const FAILED_PRECONDITION: i32 = 9;
    /// The revision asked for is compacted.
    pub const OUT_OF_RANGE: i32 = 11;
    /// The quota is exhausted (`NOSPACE`) or too many requests.
    pub const RESOURCE_EXHAUSTED: i32 = 8;
    /// The lease or key does not exist.
    pub const NOT_FOUND: i32 = 5;
    /// No leader, leader changed, request timed out: the outcome of a
    /// write is not known.
    pub const UNAVAILABLE: i32 = 14;
    /// The deadline passed: the outcome of a write is not known.
    pub const DEADLINE_EXCEEDED: i32 = 4;
}
