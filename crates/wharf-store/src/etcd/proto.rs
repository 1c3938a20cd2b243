//! etcd's v3 messages in protobuf, for the calls Wharf makes over gRPC
//! (transactions, ranges, the watch, leases, compaction, status): the
//! requests of [`super::wire`] encoded, the answers decoded into its types.
//!
//! Written by hand from etcd's `rpc.proto` and `kv.proto` (field numbers
//! below): a dozen messages do not justify a code generator in the build.
//! Fields at their default value are left out, as proto3 does, except the
//! members of a `oneof` (a comparison's operand), which are always written.
//! Unknown fields are skipped when decoding, so a newer etcd's additions do
//! not break the reading.

use super::wire::{
    Blob, Compare, CompareResult, CompareTarget, DeleteRangeRequest, Event, EventType, Header,
    KeyValue, LeaseGrantResponse, LeaseKeepAliveResponse, Operand, PutRequest, RangeRequest,
    RangeResponse, RequestOp, ResponseOp, StatusResponse, TxnRequest, TxnResponse,
    WatchCreateRequest, WatchResponse,
};

/// Why an answer could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unreadable protobuf: {0}")]
pub struct DecodeError(&'static str);

const VARINT: u64 = 0;
const FIXED64: u64 = 1;
const LEN: u64 = 2;
const FIXED32: u64 = 5;

fn varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

fn key(buf: &mut Vec<u8>, field: u64, wire: u64) {
    varint(buf, (field << 3) | wire);
}

fn bytes(buf: &mut Vec<u8>, field: u64, data: &[u8]) {
    if !data.is_empty() {
        key(buf, field, LEN);
        varint(buf, data.len() as u64);
        buf.extend_from_slice(data);
    }
}

/// An `int64` (two's complement, ten bytes when negative, as protobuf writes it).
fn int(buf: &mut Vec<u8>, field: u64, v: i64) {
    if v != 0 {
        int_always(buf, field, v);
    }
}

fn int_always(buf: &mut Vec<u8>, field: u64, v: i64) {
    key(buf, field, VARINT);
    varint(buf, v as u64);
}

fn flag(buf: &mut Vec<u8>, field: u64, v: bool) {
    if v {
        key(buf, field, VARINT);
        buf.push(1);
    }
}

/// A nested message, written always (an empty one still says which
/// member of a `oneof` it is).
fn message(buf: &mut Vec<u8>, field: u64, encode: impl FnOnce(&mut Vec<u8>)) {
    let mut inner = Vec::new();
    encode(&mut inner);
    key(buf, field, LEN);
    varint(buf, inner.len() as u64);
    buf.extend_from_slice(&inner);
}

/// `RangeRequest`: key 1, range_end 2, limit 3, revision 4, serializable 7,
/// keys_only 8, count_only 9.
pub fn encode_range(req: &RangeRequest) -> Vec<u8> {
    let mut buf = Vec::with_capacity(req.key.0.len() + 16);
    range_into(&mut buf, req);
    buf
}

fn range_into(buf: &mut Vec<u8>, req: &RangeRequest) {
    bytes(buf, 1, &req.key.0);
    if let Some(end) = &req.range_end {
        bytes(buf, 2, &end.0);
    }
    int(buf, 3, req.limit);
    int(buf, 4, req.revision);
    flag(buf, 7, req.serializable);
    flag(buf, 8, req.keys_only);
    flag(buf, 9, req.count_only);
}

/// `PutRequest`: key 1, value 2, lease 3.
fn put_into(buf: &mut Vec<u8>, req: &PutRequest) {
    bytes(buf, 1, &req.key.0);
    bytes(buf, 2, &req.value.0);
    int(buf, 3, req.lease);
}

/// `DeleteRangeRequest`: key 1, range_end 2.
fn delete_into(buf: &mut Vec<u8>, req: &DeleteRangeRequest) {
    bytes(buf, 1, &req.key.0);
    if let Some(end) = &req.range_end {
        bytes(buf, 2, &end.0);
    }
}

/// `RequestOp`: oneof request_range 1, request_put 2, request_delete_range 3.
fn op_into(buf: &mut Vec<u8>, op: &RequestOp) {
    match op {
        RequestOp::Range(r) => message(buf, 1, |b| range_into(b, r)),
        RequestOp::Put(p) => message(buf, 2, |b| put_into(b, p)),
        RequestOp::Delete(d) => message(buf, 3, |b| delete_into(b, d)),
    }
}

/// `Compare`: result 1, target 2, key 3, oneof version 4, create_revision 5,
/// mod_revision 6, value 7, lease 8; range_end 64.
fn compare_into(buf: &mut Vec<u8>, c: &Compare) {
    let result = match c.result {
        CompareResult::Equal => 0,
        CompareResult::Greater => 1,
        CompareResult::Less => 2,
        CompareResult::NotEqual => 3,
    };
    let target = match c.target {
        CompareTarget::Version => 0,
        CompareTarget::Create => 1,
        CompareTarget::Mod => 2,
        CompareTarget::Value => 3,
        CompareTarget::Lease => 4,
    };
    int(buf, 1, result);
    int(buf, 2, target);
    bytes(buf, 3, &c.key.0);
    match c.operand {
        Operand::Version(v) => int_always(buf, 4, v),
        Operand::Create(v) => int_always(buf, 5, v),
        Operand::Mod(v) => int_always(buf, 6, v),
        Operand::Lease(v) => int_always(buf, 8, v),
    }
    if let Some(end) = &c.range_end {
        bytes(buf, 64, &end.0);
    }
}

/// `TxnRequest`: compare 1, success 2, failure 3.
pub fn encode_txn(req: &TxnRequest) -> Vec<u8> {
    let mut buf = Vec::new();
    for c in &req.compare {
        message(&mut buf, 1, |b| compare_into(b, c));
    }
    for op in &req.success {
        message(&mut buf, 2, |b| op_into(b, op));
    }
    for op in &req.failure {
        message(&mut buf, 3, |b| op_into(b, op));
    }
    buf
}

/// `WatchRequest` with its `create_request` (field 1): key 1, range_end 2,
/// start_revision 3, progress_notify 4.
pub fn encode_watch_create(req: &WatchCreateRequest) -> Vec<u8> {
    let mut buf = Vec::new();
    message(&mut buf, 1, |b| {
        bytes(b, 1, &req.key.0);
        if let Some(end) = &req.range_end {
            bytes(b, 2, &end.0);
        }
        int(b, 3, req.start_revision);
        flag(b, 4, req.progress_notify);
    });
    buf
}

/// `LeaseGrantRequest`: TTL 1 (ID 2 left out: etcd picks it).
pub fn encode_lease_grant(ttl: i64) -> Vec<u8> {
    let mut buf = Vec::new();
    int(&mut buf, 1, ttl);
    buf
}

/// `LeaseKeepAliveRequest` and `LeaseRevokeRequest`: ID 1.
pub fn encode_lease_id(id: i64) -> Vec<u8> {
    let mut buf = Vec::new();
    int(&mut buf, 1, id);
    buf
}

/// `CompactionRequest`: revision 1 (physical 2 left out).
pub fn encode_compaction(revision: i64) -> Vec<u8> {
    let mut buf = Vec::new();
    int(&mut buf, 1, revision);
    buf
}

/// One field of a message being read.
enum Value<'a> {
    Varint(u64),
    Len(&'a [u8]),
    Other,
}

/// The fields of a message, in order.
struct Fields<'a> {
    buf: &'a [u8],
}

impl<'a> Fields<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&b, rest) =
                self.buf.split_first().ok_or(DecodeError("a varint runs off the end"))?;
            self.buf = rest;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(DecodeError("a varint is longer than ten bytes"))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.buf.len() {
            return Err(DecodeError("a field runs off the end"));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn next_field(&mut self) -> Option<Result<(u64, Value<'a>), DecodeError>> {
        if self.buf.is_empty() {
            return None;
        }
        Some(self.read_field())
    }

    fn read_field(&mut self) -> Result<(u64, Value<'a>), DecodeError> {
        let k = self.varint()?;
        let (field, wire) = (k >> 3, k & 7);
        let value = match wire {
            VARINT => Value::Varint(self.varint()?),
            LEN => {
                let n = usize::try_from(self.varint()?)
                    .map_err(|_| DecodeError("a length does not fit"))?;
                Value::Len(self.take(n)?)
            }
            FIXED64 => {
                self.take(8)?;
                Value::Other
            }
            FIXED32 => {
                self.take(4)?;
                Value::Other
            }
            _ => return Err(DecodeError("an unknown wire type")),
        };
        Ok((field, value))
    }
}

/// Reads every field of `buf` with `each`.
fn read<'a>(
    buf: &'a [u8],
    mut each: impl FnMut(u64, Value<'a>) -> Result<(), DecodeError>,
) -> Result<(), DecodeError> {
    let mut fields = Fields::new(buf);
    while let Some(field) = fields.next_field() {
        let (n, v) = field?;
        each(n, v)?;
    }
    Ok(())
}

/// `ResponseHeader`: cluster_id 1, member_id 2, revision 3, raft_term 4.
fn decode_header(buf: &[u8]) -> Result<Header, DecodeError> {
    let mut h = Header::default();
    read(buf, |n, v| {
        if let Value::Varint(x) = v {
            match n {
                2 => h.member_id = x,
                3 => h.revision = x as i64,
                4 => h.raft_term = x as i64,
                _ => {}
            }
        }
        Ok(())
    })?;
    Ok(h)
}

/// `KeyValue`: key 1, create_revision 2, mod_revision 3, version 4, value 5,
/// lease 6.
fn decode_kv(buf: &[u8]) -> Result<KeyValue, DecodeError> {
    let mut kv = KeyValue::default();
    read(buf, |n, v| {
        match (n, v) {
            (1, Value::Len(b)) => kv.key = Blob(b.to_vec()),
            (2, Value::Varint(x)) => kv.create_revision = x as i64,
            (3, Value::Varint(x)) => kv.mod_revision = x as i64,
            (4, Value::Varint(x)) => kv.version = x as i64,
            (5, Value::Len(b)) => kv.value = Blob(b.to_vec()),
            (6, Value::Varint(x)) => kv.lease = x as i64,
            _ => {}
        }
        Ok(())
    })?;
    Ok(kv)
}

/// `RangeResponse`: header 1, kvs 2, more 3, count 4.
pub fn decode_range(buf: &[u8]) -> Result<RangeResponse, DecodeError> {
    let mut r = RangeResponse::default();
    read(buf, |n, v| {
        match (n, v) {
            (1, Value::Len(b)) => r.header = decode_header(b)?,
            (2, Value::Len(b)) => r.kvs.push(decode_kv(b)?),
            (3, Value::Varint(x)) => r.more = x != 0,
            (4, Value::Varint(x)) => r.count = x as i64,
            _ => {}
        }
        Ok(())
    })?;
    Ok(r)
}

/// `ResponseOp`: oneof response_range 1 (the only answer Wharf reads),
/// response_put 2, response_delete_range 3, response_txn 4.
fn decode_op(buf: &[u8]) -> Result<ResponseOp, DecodeError> {
    let mut op = ResponseOp { response_range: None };
    read(buf, |n, v| {
        if let (1, Value::Len(b)) = (n, v) {
            op.response_range = Some(decode_range(b)?);
        }
        Ok(())
    })?;
    Ok(op)
}

/// `TxnResponse`: header 1, succeeded 2, responses 3.
pub fn decode_txn(buf: &[u8]) -> Result<TxnResponse, DecodeError> {
    let mut r = TxnResponse::default();
    read(buf, |n, v| {
        match (n, v) {
            (1, Value::Len(b)) => r.header = decode_header(b)?,
            (2, Value::Varint(x)) => r.succeeded = x != 0,
            (3, Value::Len(b)) => r.responses.push(decode_op(b)?),
            _ => {}
        }
        Ok(())
    })?;
    Ok(r)
}

/// `Event`: type 1 (PUT 0, DELETE 1), kv 2.
fn decode_event(buf: &[u8]) -> Result<Event, DecodeError> {
    let mut e = Event::default();
    read(buf, |n, v| {
        match (n, v) {
            (1, Value::Varint(1)) => e.kind = EventType::Delete,
            (1, Value::Varint(_)) => e.kind = EventType::Put,
            (2, Value::Len(b)) => e.kv = decode_kv(b)?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(e)
}

/// `WatchResponse`: header 1, created 3, canceled 4, compact_revision 5,
/// cancel_reason 6, events 11.
pub fn decode_watch(buf: &[u8]) -> Result<WatchResponse, DecodeError> {
    let mut r = WatchResponse::default();
    read(buf, |n, v| {
        match (n, v) {
            (1, Value::Len(b)) => r.header = decode_header(b)?,
            (3, Value::Varint(x)) => r.created = x != 0,
            (4, Value::Varint(x)) => r.canceled = x != 0,
            (5, Value::Varint(x)) => r.compact_revision = x as i64,
            (6, Value::Len(b)) => r.cancel_reason = String::from_utf8_lossy(b).into_owned(),
            (11, Value::Len(b)) => r.events.push(decode_event(b)?),
            _ => {}
        }
        Ok(())
    })?;
    Ok(r)
}

/// `LeaseGrantResponse`: header 1, ID 2, TTL 3, error 4.
pub fn decode_lease_grant(buf: &[u8]) -> Result<LeaseGrantResponse, DecodeError> {
    let mut r = LeaseGrantResponse::default();
    read(buf, |n, v| {
        match (n, v) {
            (1, Value::Len(b)) => r.header = decode_header(b)?,
            (2, Value::Varint(x)) => r.id = x as i64,
            (3, Value::Varint(x)) => r.ttl = x as i64,
            (4, Value::Len(b)) => r.error = String::from_utf8_lossy(b).into_owned(),
            _ => {}
        }
        Ok(())
    })?;
    Ok(r)
}

/// `LeaseKeepAliveResponse`: header 1, ID 2, TTL 3.
pub fn decode_lease_keep_alive(buf: &[u8]) -> Result<LeaseKeepAliveResponse, DecodeError> {
    let mut r = LeaseKeepAliveResponse::default();
    read(buf, |n, v| {
        match (n, v) {
            (1, Value::Len(b)) => r.header = decode_header(b)?,
            (2, Value::Varint(x)) => r.id = x as i64,
            (3, Value::Varint(x)) => r.ttl = x as i64,
            _ => {}
        }
        Ok(())
    })?;
    Ok(r)
}

/// `StatusResponse`: header 1, leader 4 (version 2, dbSize 3 and the rest
/// skipped).
pub fn decode_status(buf: &[u8]) -> Result<StatusResponse, DecodeError> {
    let mut r = StatusResponse::default();
    read(buf, |n, v| {
        match (n, v) {
            (1, Value::Len(b)) => r.header = decode_header(b)?,
            (4, Value::Varint(x)) => r.leader = x,
            _ => {}
        }
        Ok(())
    })?;
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_comparison_with_a_zero_operand() {
        // result EQUAL and target VERSION are defaults and left out; the
        // operand of the oneof is written even when 0.
        let c = Compare {
            result: CompareResult::Equal,
            target: CompareTarget::Version,
            key: Blob::from("k"),
            range_end: None,
            operand: Operand::Version(0),
        };
        let req = TxnRequest { compare: vec![c], success: vec![], failure: vec![] };
        assert_eq!(encode_txn(&req), vec![0x0a, 0x05, 0x1a, 0x01, b'k', 0x20, 0x00]);
    }

    #[test]
    fn writes_a_put_in_a_transaction_and_a_negative_revision_in_ten_bytes() {
        let req = TxnRequest {
            compare: vec![Compare::mod_is(Blob::from("a"), -1)],
            success: vec![RequestOp::Put(PutRequest {
                key: Blob::from("a"),
                value: Blob::from("v"),
                lease: 0,
            })],
            failure: vec![],
        };
        let mut want = vec![0x0a, 0x10, 0x10, 0x02, 0x1a, 0x01, b'a', 0x30];
        want.extend([0xff; 9]);
        want.push(0x01);
        want.extend([0x12, 0x08, 0x12, 0x06, 0x0a, 0x01, b'a', 0x12, 0x01, b'v']);
        assert_eq!(encode_txn(&req), want);
    }

    #[test]
    fn reads_a_transaction_answer_and_skips_unknown_fields() {
        // header {cluster_id 7, member_id 9, revision 300, raft_term 2},
        // succeeded false, one response_range with one kv, then an unknown
        // fixed64 field 15.
        let kv =
            [0x0a, 0x01, b'k', 0x10, 0x05, 0x18, 0xac, 0x02, 0x20, 0x03, 0x2a, 0x02, b'v', b'1'];
        let mut range = vec![0x12, kv.len() as u8];
        range.extend(kv);
        range.extend([0x20, 0x01]);
        let mut op = vec![0x0a, range.len() as u8];
        op.extend(&range);
        let mut buf = vec![0x0a, 0x09, 0x08, 0x07, 0x10, 0x09, 0x18, 0xac, 0x02, 0x20, 0x02];
        buf.extend([0x1a, op.len() as u8]);
        buf.extend(&op);
        buf.push(0x79);
        buf.extend([0; 8]);
        let r = decode_txn(&buf).unwrap();
        assert_eq!((r.header.revision, r.header.member_id, r.header.raft_term), (300, 9, 2));
        assert!(!r.succeeded);
        let range = r.responses[0].response_range.as_ref().unwrap();
        assert_eq!(range.count, 1);
        let kv = &range.kvs[0];
        assert_eq!((kv.key.0.as_slice(), kv.value.0.as_slice()), (&b"k"[..], &b"v1"[..]));
        assert_eq!((kv.create_revision, kv.mod_revision, kv.version), (5, 300, 3));
    }

    #[test]
    fn writes_a_watch_and_reads_its_events() {
        let req = WatchCreateRequest {
            key: Blob::from("a"),
            range_end: Some(Blob::from("b")),
            start_revision: 7,
            progress_notify: false,
        };
        assert_eq!(
            encode_watch_create(&req),
            vec![0x0a, 0x08, 0x0a, 0x01, b'a', 0x12, 0x01, b'b', 0x18, 0x07]
        );
        // header {revision 9}, one DELETE of "a" at 9, one PUT (type left
        // out) of "b" = "v".
        let delete = [0x08, 0x01, 0x12, 0x05, 0x0a, 0x01, b'a', 0x18, 0x09];
        let put = [0x12, 0x06, 0x0a, 0x01, b'b', 0x2a, 0x01, b'v'];
        let mut buf = vec![0x0a, 0x02, 0x18, 0x09, 0x5a, delete.len() as u8];
        buf.extend(delete);
        buf.extend([0x5a, put.len() as u8]);
        buf.extend(put);
        let r = decode_watch(&buf).unwrap();
        assert_eq!(r.header.revision, 9);
        assert!(!r.created && !r.canceled);
        assert_eq!(r.events.len(), 2);
        assert_eq!(r.events[0].kind, EventType::Delete);
        assert_eq!((r.events[0].kv.key.0.as_slice(), r.events[0].kv.mod_revision), (&b"a"[..], 9));
        assert_eq!(r.events[1].kind, EventType::Put);
        assert_eq!(r.events[1].kv.value.0, b"v");
        // A canceled watch with the compacted revision.
        let r = decode_watch(&[0x20, 0x01, 0x28, 0x05, 0x32, 0x01, b'x']).unwrap();
        assert!(r.canceled);
        assert_eq!((r.compact_revision, r.cancel_reason.as_str()), (5, "x"));
    }

    #[test]
    fn refuses_a_truncated_answer() {
        assert!(decode_txn(&[0x0a, 0x05, 0x08]).is_err());
        assert!(decode_range(&[0x08]).is_err());
    }

    #[test]
    fn writes_lease_calls_and_reads_their_answers() {
        assert_eq!(encode_lease_grant(5), vec![0x08, 0x05]);
        assert_eq!(encode_lease_id(300), vec![0x08, 0xac, 0x02]);
        assert_eq!(encode_compaction(7), vec![0x08, 0x07]);
        // header {revision 9}, ID 300, TTL 5.
        let answer = [0x0a, 0x02, 0x18, 0x09, 0x10, 0xac, 0x02, 0x18, 0x05];
        let g = decode_lease_grant(&answer).unwrap();
        assert_eq!((g.header.revision, g.id, g.ttl, g.error.as_str()), (9, 300, 5, ""));
        let k = decode_lease_keep_alive(&answer).unwrap();
        assert_eq!((k.id, k.ttl), (300, 5));
        // A lease that is gone: TTL left out, read as 0.
        assert_eq!(decode_lease_keep_alive(&[0x10, 0x01]).unwrap().ttl, 0);
        // Status: header {member_id 9}, version "3.4", leader 9.
        let status = [0x0a, 0x02, 0x10, 0x09, 0x12, 0x03, b'3', b'.', b'4', 0x20, 0x09];
        let s = decode_status(&status).unwrap();
        assert_eq!((s.header.member_id, s.leader), (9, 9));
    }
}
