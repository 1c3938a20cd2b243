//! etcd's v3 messages as Wharf's client holds them, and their JSON shapes as
//! etcd's gRPC gateway serves them (`/v3/lease/*`, `/v3/kv/compaction`, ...).
//! Transactions, ranges and watches travel as protobuf instead
//! ([`super::proto`] encodes and decodes these same types).
//!
//! The gateway speaks protobuf's JSON mapping: keys and values are base64,
//! 64-bit integers are strings, fields at their default value are left out,
//! and field names are the proto names (`mod_revision`). etcd 3.4 and 3.5
//! answer that way; each field also accepts the lowerCamelCase spelling that
//! protobuf's JSON mapping allows, so a gateway built with other options
//! reads the same.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Bytes that travel as base64.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct B64(pub Vec<u8>);

impl Serialize for B64 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for B64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        STANDARD.decode(s.as_bytes()).map(B64).map_err(serde::de::Error::custom)
    }
}

impl From<&str> for B64 {
    fn from(s: &str) -> Self {
        Self(s.as_bytes().to_vec())
    }
}

impl From<String> for B64 {
    fn from(s: String) -> Self {
        Self(s.into_bytes())
    }
}

/// Serializes an `i64` as protobuf's JSON mapping does: a string.
fn ser_i64<S: Serializer>(v: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

/// Reads an `i64` written as a string or a number.
fn de_i64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Int<'a> {
        Num(i64),
        Text(std::borrow::Cow<'a, str>),
    }
    match Int::deserialize(d)? {
        Int::Num(n) => Ok(n),
        Int::Text(s) => s.parse().map_err(serde::de::Error::custom),
    }
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

fn is_false(v: &bool) -> bool {
    !*v
}

/// The header of every answer.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Header {
    /// The store's revision when the request was served.
    #[serde(default, deserialize_with = "de_i64")]
    pub revision: i64,
    /// The Raft term of the member that answered.
    #[serde(default, deserialize_with = "de_i64", alias = "raftTerm")]
    pub raft_term: i64,
    /// The member that answered.
    #[serde(default, deserialize_with = "de_u64_lossy", alias = "memberId")]
    pub member_id: u64,
}

/// Reads a `uint64` (member and cluster ids) written as a string or a number.
fn de_u64_lossy<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Int<'a> {
        Num(u64),
        Text(std::borrow::Cow<'a, str>),
    }
    match Int::deserialize(d)? {
        Int::Num(n) => Ok(n),
        Int::Text(s) => s.parse().map_err(serde::de::Error::custom),
    }
}

/// One key with its value and revisions.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct KeyValue {
    /// The key.
    #[serde(default)]
    pub key: B64,
    /// The revision that created it (0: it does not exist).
    #[serde(default, deserialize_with = "de_i64", alias = "createRevision")]
    pub create_revision: i64,
    /// The revision of its last change.
    #[serde(default, deserialize_with = "de_i64", alias = "modRevision")]
    pub mod_revision: i64,
    /// How many times it was written since its creation.
    #[serde(default, deserialize_with = "de_i64")]
    pub version: i64,
    /// The value.
    #[serde(default)]
    pub value: B64,
    /// The lease it is attached to (0: none).
    #[serde(default, deserialize_with = "de_i64")]
    pub lease: i64,
}

/// `RangeRequest`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RangeRequest {
    /// The first key.
    pub key: B64,
    /// The end of the range (exclusive); empty: the key alone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub range_end: Option<B64>,
    /// At most this many keys (0: no limit).
    #[serde(serialize_with = "ser_i64", skip_serializing_if = "is_zero")]
    pub limit: i64,
    /// Read at this revision (0: the latest).
    #[serde(serialize_with = "ser_i64", skip_serializing_if = "is_zero")]
    pub revision: i64,
    /// Served by the member alone, without a quorum.
    #[serde(skip_serializing_if = "is_false")]
    pub serializable: bool,
    /// Keys without values.
    #[serde(skip_serializing_if = "is_false")]
    pub keys_only: bool,
    /// Only the count.
    #[serde(skip_serializing_if = "is_false")]
    pub count_only: bool,
}

/// `RangeResponse`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RangeResponse {
    /// The header.
    #[serde(default)]
    pub header: Header,
    /// The keys found.
    #[serde(default)]
    pub kvs: Vec<KeyValue>,
    /// Whether more keys lie beyond `limit`.
    #[serde(default)]
    pub more: bool,
    /// How many keys the range holds.
    #[serde(default, deserialize_with = "de_i64")]
    pub count: i64,
}

/// `PutRequest`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PutRequest {
    /// The key.
    pub key: B64,
    /// The value.
    pub value: B64,
    /// Attach it to this lease (0: none).
    #[serde(serialize_with = "ser_i64", skip_serializing_if = "is_zero")]
    pub lease: i64,
}

/// `DeleteRangeRequest`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DeleteRangeRequest {
    /// The first key.
    pub key: B64,
    /// The end of the range (exclusive); none: the key alone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub range_end: Option<B64>,
}

/// One operation of a transaction.
#[derive(Debug, Clone, Serialize)]
pub enum RequestOp {
    /// A read.
    #[serde(rename = "request_range")]
    Range(RangeRequest),
    /// A write.
    #[serde(rename = "request_put")]
    Put(PutRequest),
    /// A deletion.
    #[serde(rename = "request_delete_range")]
    Delete(DeleteRangeRequest),
}

/// What a comparison looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
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
#[derive(Debug, Clone, Serialize)]
pub struct Compare {
    /// How.
    pub result: CompareResult,
    /// What.
    pub target: CompareTarget,
    /// The key.
    pub key: B64,
    /// The end of a range of keys (exclusive).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub range_end: Option<B64>,
    /// The revision compared with (`Mod`, `Create`), as a string.
    #[serde(flatten)]
    pub operand: Operand,
}

/// The value a comparison compares with.
#[derive(Debug, Clone, Serialize)]
pub enum Operand {
    /// A create revision.
    #[serde(rename = "create_revision", serialize_with = "ser_i64")]
    Create(i64),
    /// A modification revision.
    #[serde(rename = "mod_revision", serialize_with = "ser_i64")]
    Mod(i64),
    /// A version.
    #[serde(rename = "version", serialize_with = "ser_i64")]
    Version(i64),
    /// A lease id.
    #[serde(rename = "lease", serialize_with = "ser_i64")]
    Lease(i64),
}

impl Compare {
    /// `key`'s last modification was at `revision` (0: it does not exist).
    pub fn mod_is(key: B64, revision: i64) -> Self {
        Self {
            result: CompareResult::Equal,
            target: CompareTarget::Mod,
            key,
            range_end: None,
            operand: Operand::Mod(revision),
        }
    }

    /// `key` was created at `revision` (0: it does not exist).
    pub fn created_at(key: B64, revision: i64) -> Self {
        Self {
            result: CompareResult::Equal,
            target: CompareTarget::Create,
            key,
            range_end: None,
            operand: Operand::Create(revision),
        }
    }

    /// No key in `[key, range_end)` changed after `revision`.
    pub fn range_unchanged_since(key: B64, range_end: B64, revision: i64) -> Self {
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
#[derive(Debug, Clone, Default, Serialize)]
pub struct TxnRequest {
    /// All must hold for `success` to run; else `failure` runs.
    pub compare: Vec<Compare>,
    /// Run when every comparison holds.
    pub success: Vec<RequestOp>,
    /// Run otherwise.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failure: Vec<RequestOp>,
}

/// One answer of a transaction's operations.
#[derive(Debug, Clone, Deserialize)]
pub struct ResponseOp {
    /// The answer of a read.
    #[serde(default, alias = "responseRange")]
    pub response_range: Option<RangeResponse>,
}

/// `TxnResponse`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TxnResponse {
    /// The header: its revision is the transaction's when it wrote.
    #[serde(default)]
    pub header: Header,
    /// Whether the comparisons held.
    #[serde(default)]
    pub succeeded: bool,
    /// The answers of the operations that ran.
    #[serde(default)]
    pub responses: Vec<ResponseOp>,
}

/// `WatchCreateRequest`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WatchCreateRequest {
    /// The first key.
    pub key: B64,
    /// The end of the range (exclusive).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub range_end: Option<B64>,
    /// Events from this revision on (0: from now).
    #[serde(serialize_with = "ser_i64", skip_serializing_if = "is_zero")]
    pub start_revision: i64,
    /// Ask for periodic progress notices (an empty answer with the revision).
    #[serde(skip_serializing_if = "is_false")]
    pub progress_notify: bool,
}

/// What happened to a key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum EventType {
    /// Created or changed.
    #[default]
    #[serde(rename = "PUT")]
    Put,
    /// Deleted.
    #[serde(rename = "DELETE")]
    Delete,
}

/// One change seen by a watch.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Event {
    /// Put or delete (a put is left out, being the default).
    #[serde(default, rename = "type")]
    pub kind: EventType,
    /// The key after the change (only key and `mod_revision` for a delete).
    #[serde(default)]
    pub kv: KeyValue,
}

/// `WatchResponse`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct WatchResponse {
    /// The header.
    #[serde(default)]
    pub header: Header,
    /// Set on the answer that confirms the watch.
    #[serde(default)]
    pub created: bool,
    /// Set when the watch ended (compaction, an error).
    #[serde(default)]
    pub canceled: bool,
    /// With `canceled`: the revision compacted, if the start was older.
    #[serde(default, deserialize_with = "de_i64", alias = "compactRevision")]
    pub compact_revision: i64,
    /// Why it was canceled.
    #[serde(default, alias = "cancelReason")]
    pub cancel_reason: String,
    /// The changes, in revision order.
    #[serde(default)]
    pub events: Vec<Event>,
}

/// One message of a gateway stream: a result or an error.
#[derive(Debug, Clone, Deserialize)]
pub struct StreamMessage<T> {
    /// The message.
    pub result: Option<T>,
    /// A stream error.
    pub error: Option<serde_json::Value>,
}

/// `LeaseGrantRequest`.
#[derive(Debug, Clone, Serialize)]
pub struct LeaseGrantRequest {
    /// The lease's time to live, in seconds.
    #[serde(rename = "TTL", serialize_with = "ser_i64")]
    pub ttl: i64,
}

/// `LeaseGrantResponse`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LeaseGrantResponse {
    /// The header.
    #[serde(default)]
    pub header: Header,
    /// The lease's id.
    #[serde(default, rename = "ID", deserialize_with = "de_i64")]
    pub id: i64,
    /// Its time to live as granted, in seconds.
    #[serde(default, rename = "TTL", deserialize_with = "de_i64")]
    pub ttl: i64,
    /// Why it was not granted.
    #[serde(default)]
    pub error: String,
}

/// `LeaseKeepAliveRequest` and `LeaseRevokeRequest`.
#[derive(Debug, Clone, Serialize)]
pub struct LeaseId {
    /// The lease.
    #[serde(rename = "ID", serialize_with = "ser_i64")]
    pub id: i64,
}

/// `LeaseKeepAliveResponse`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LeaseKeepAliveResponse {
    /// The header.
    #[serde(default)]
    pub header: Header,
    /// The lease.
    #[serde(default, rename = "ID", deserialize_with = "de_i64")]
    pub id: i64,
    /// Its new time to live, in seconds; 0 (left out): the lease is gone.
    #[serde(default, rename = "TTL", deserialize_with = "de_i64")]
    pub ttl: i64,
}

/// `CompactionRequest`.
#[derive(Debug, Clone, Serialize)]
pub struct CompactionRequest {
    /// Forget history before this revision.
    #[serde(serialize_with = "ser_i64")]
    pub revision: i64,
}

/// The error answer of a unary call: `{"error", "code", "message"}`
/// (3.4), or `{"code", "message"}` (later gateways).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorBody {
    /// The gRPC status code.
    #[serde(default)]
    pub code: i32,
    /// The message.
    #[serde(default)]
    pub message: String,
    /// The message again (3.4).
    #[serde(default)]
    pub error: String,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_etcd_3_4_answers() {
        let body = r#"{"header":{"cluster_id":"324952591200643719","member_id":"3319814642761637952","revision":"3","raft_term":"2"},"kvs":[{"key":"Zm9v","create_revision":"2","mod_revision":"3","version":"2","value":"YmFy"}],"count":"1"}"#;
        let r: RangeResponse = serde_json::from_str(body).unwrap();
        assert_eq!(r.header.revision, 3);
        assert_eq!(r.kvs[0].key.0, b"foo");
        assert_eq!(r.kvs[0].value.0, b"bar");
        assert_eq!((r.kvs[0].create_revision, r.kvs[0].mod_revision), (2, 3));
        let w = r#"{"result":{"header":{"revision":"5"},"events":[{"type":"DELETE","kv":{"key":"Zm9v","mod_revision":"5"}},{"kv":{"key":"Zm9v","modRevision":6}}]}}"#;
        let m: StreamMessage<WatchResponse> = serde_json::from_str(w).unwrap();
        let events = m.result.unwrap().events;
        assert_eq!(events[0].kind, EventType::Delete);
        assert_eq!(events[1].kind, EventType::Put);
        assert_eq!(events[1].kv.mod_revision, 6);
    }

    #[test]
    fn writes_what_the_gateway_reads() {
        let t = TxnRequest {
            compare: vec![Compare::mod_is("k".into(), 7)],
            success: vec![RequestOp::Put(PutRequest {
                key: "k".into(),
                value: "v".into(),
                lease: 0,
            })],
            failure: vec![],
        };
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            r#"{"compare":[{"result":"EQUAL","target":"MOD","key":"aw==","mod_revision":"7"}],"success":[{"request_put":{"key":"aw==","value":"dg=="}}]}"#
        );
    }
}
