//! DNS answers for private namespaces, as Wharf's resolvers give them (pure:
//! packets in, packets out). Names under a private DNS namespace are
//! answered from the registries' [`Table`]: A records of the healthy
//! instances, SRV records with their ports; a name with no service is
//! `NXDOMAIN`. Every other name is for the upstream resolvers ([`Reply::Forward`]).

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::DnsAnswers;

const TYPE_A: u16 = 1;
const TYPE_AAAA: u16 = 28;
const TYPE_SRV: u16 = 33;
const TYPE_ANY: u16 = 255;
const CLASS_IN: u16 = 1;
const RCODE_FORMERR: u8 = 1;
const RCODE_NXDOMAIN: u8 = 3;

/// What the resolver answers from: the private zones and their names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    /// The private namespaces' names (lowercase).
    pub zones: Vec<String>,
    /// Each name's answers.
    pub names: BTreeMap<String, DnsAnswers>,
}

impl Table {
    fn zone_of(&self, name: &str) -> Option<&str> {
        self.zones
            .iter()
            .find(|z| {
                name == z.as_str()
                    || name.strip_suffix(z.as_str()).is_some_and(|p| p.ends_with('.'))
            })
            .map(String::as_str)
    }
}

/// A query's question.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Question {
    name: String,
    qtype: u16,
    qclass: u16,
    /// Where the question ends in the packet.
    end: usize,
}

fn read_question(packet: &[u8]) -> Option<Question> {
    if packet.len() < 12 || u16::from_be_bytes([packet[4], packet[5]]) != 1 {
        return None;
    }
    let mut at = 12;
    let mut labels = Vec::new();
    loop {
        let len = usize::from(*packet.get(at)?);
        at += 1;
        if len == 0 {
            break;
        }
        if len > 63 {
            return None; // compression or a bad label: not in a question
        }
        let label = packet.get(at..at + len)?;
        labels.push(String::from_utf8_lossy(label).to_ascii_lowercase());
        at += len;
    }
    let qtype = u16::from_be_bytes([*packet.get(at)?, *packet.get(at + 1)?]);
    let qclass = u16::from_be_bytes([*packet.get(at + 2)?, *packet.get(at + 3)?]);
    Some(Question { name: labels.join("."), qtype, qclass, end: at + 4 })
}

fn push_name(out: &mut Vec<u8>, name: &str) {
    for label in name.split('.').filter(|l| !l.is_empty()) {
        let bytes = &label.as_bytes()[..label.len().min(63)];
        out.push(bytes.len() as u8);
        out.extend_from_slice(bytes);
    }
    out.push(0);
}

fn push_record(out: &mut Vec<u8>, name: Option<&str>, rtype: u16, ttl: u32, rdata: &[u8]) {
    match name {
        None => out.extend_from_slice(&[0xc0, 12]), // the question's name
        Some(n) => push_name(out, n),
    }
    out.extend_from_slice(&rtype.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    out.extend_from_slice(&ttl.to_be_bytes());
    out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    out.extend_from_slice(rdata);
}

fn header(query: &[u8], rcode: u8, answers: u16, additional: u16) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(&query[0..2]);
    // QR, the query's opcode and RD, AA; RA.
    out.push(0x80 | (query[2] & 0x79) | 0x04);
    out.push(0x80 | (rcode & 0x0f));
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&answers.to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes());
    out.extend_from_slice(&additional.to_be_bytes());
    out
}

/// What to do with a query: answer it from the table, or forward it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// This answer.
    Answer(Vec<u8>),
    /// Not a private name: ask the upstream resolvers.
    Forward,
}

/// Answers a query packet from the table (pure). A records come in a
/// rotating order (`rotation`), as Route 53's multivalue answers vary.
pub fn answer(table: &Table, query: &[u8], rotation: usize) -> Reply {
    if query.len() < 12 {
        return Reply::Answer(Vec::new());
    }
    let Some(q) = read_question(query) else {
        let mut out = header(query, RCODE_FORMERR, 0, 0);
        // No question is echoed.
        out[4] = 0;
        out[5] = 0;
        return Reply::Answer(out);
    };
    if table.zone_of(&q.name).is_none() || q.qclass != CLASS_IN {
        return Reply::Forward;
    }
    let Some(found) = table.names.get(&q.name) else {
        let mut out = header(query, RCODE_NXDOMAIN, 0, 0);
        out.extend_from_slice(&query[12..q.end]);
        return Reply::Answer(out);
    };
    let mut answers: Vec<u8> = Vec::new();
    let mut additional: Vec<u8> = Vec::new();
    let (mut an, mut ar) = (0u16, 0u16);
    if matches!(q.qtype, TYPE_A | TYPE_ANY) && !found.a.is_empty() {
        let n = found.a.len();
        for i in 0..n.min(8) {
            let (ip, ttl) = found.a[(i + rotation) % n];
            push_record(&mut answers, None, TYPE_A, ttl, &ip.octets());
            an += 1;
        }
    }
    if matches!(q.qtype, TYPE_SRV | TYPE_ANY) {
        for (port, target, ttl) in &found.srv {
            let mut rdata = Vec::with_capacity(32);
            rdata.extend_from_slice(&1u16.to_be_bytes());
            rdata.extend_from_slice(&1u16.to_be_bytes());
            rdata.extend_from_slice(&port.to_be_bytes());
            push_name(&mut rdata, target);
            push_record(&mut answers, None, TYPE_SRV, *ttl, &rdata);
            an += 1;
            for (ip, ttl) in table.names.get(target).map(|t| t.a.as_slice()).unwrap_or(&[]) {
                push_record(&mut additional, Some(target), TYPE_A, *ttl, &ip.octets());
                ar += 1;
            }
        }
    }
    let _ = TYPE_AAAA; // AAAA: the name exists with no IPv6 records (NOERROR, empty).
    let mut out = header(query, 0, an, ar);
    out.extend_from_slice(&query[12..q.end]);
    out.extend_from_slice(&answers);
    out.extend_from_slice(&additional);
    Reply::Answer(out)
}

/// The host's resolvers (`nameserver` lines of `/etc/resolv.conf`), port 53.
pub fn upstreams(resolv_conf: &str, own: SocketAddr) -> Vec<SocketAddr> {
    resolv_conf
        .lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .filter_map(|a| a.trim().parse::<std::net::IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .filter(|a| *a != own)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn query(name: &str, qtype: u16) -> Vec<u8> {
        let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        push_name(&mut q, name);
        q.extend_from_slice(&qtype.to_be_bytes());
        q.extend_from_slice(&CLASS_IN.to_be_bytes());
        q
    }

    fn table() -> Table {
        let mut names = BTreeMap::new();
        names.insert(
            "web.internal".to_owned(),
            DnsAnswers {
                a: vec![(Ipv4Addr::new(10, 0, 0, 1), 10), (Ipv4Addr::new(10, 0, 0, 2), 10)],
                srv: vec![],
            },
        );
        names.insert(
            "db.internal".to_owned(),
            DnsAnswers { a: vec![], srv: vec![(5432, "t1.db.internal".into(), 10)] },
        );
        names.insert(
            "t1.db.internal".to_owned(),
            DnsAnswers { a: vec![(Ipv4Addr::new(10, 0, 1, 1), 10)], srv: vec![] },
        );
        Table { zones: vec!["internal".into()], names }
    }

    fn bytes(r: Reply) -> Vec<u8> {
        match r {
            Reply::Answer(b) => b,
            Reply::Forward => panic!("forwarded"),
        }
    }

    #[test]
    fn a_records_for_a_private_name() {
        let a = bytes(answer(&table(), &query("WEB.internal", TYPE_A), 0));
        assert_eq!(&a[0..2], &[0x12, 0x34], "the query's id");
        assert_eq!(a[2] & 0x80, 0x80, "a response");
        assert_eq!(a[3] & 0x0f, 0, "NOERROR");
        assert_eq!(u16::from_be_bytes([a[6], a[7]]), 2, "two answers");
        let q = query("web.internal", TYPE_A);
        let first = &a[q.len()..];
        assert_eq!(&first[0..2], &[0xc0, 12]);
        assert_eq!(&first[12..16], &[10, 0, 0, 1]);
        let rotated = bytes(answer(&table(), &q, 1));
        assert_eq!(&rotated[q.len() + 12..q.len() + 16], &[10, 0, 0, 2]);
    }

    #[test]
    fn srv_with_its_target_address_and_nxdomain_and_forwarding() {
        let q = query("db.internal", TYPE_SRV);
        let a = bytes(answer(&table(), &q, 0));
        assert_eq!(u16::from_be_bytes([a[6], a[7]]), 1);
        assert_eq!(u16::from_be_bytes([a[10], a[11]]), 1, "the target's A in additional");
        let rdata = &a[q.len() + 12..];
        assert_eq!(u16::from_be_bytes([rdata[4], rdata[5]]), 5432);
        let none = bytes(answer(&table(), &query("nope.internal", TYPE_A), 0));
        assert_eq!(none[3] & 0x0f, RCODE_NXDOMAIN);
        let v6 = bytes(answer(&table(), &query("web.internal", TYPE_AAAA), 0));
        assert_eq!((v6[3] & 0x0f, v6[7]), (0, 0), "exists, no IPv6 records");
        assert_eq!(answer(&table(), &query("example.com", TYPE_A), 0), Reply::Forward);
        assert_eq!(answer(&table(), &query("notinternal", TYPE_A), 0), Reply::Forward);
    }

    #[test]
    fn upstreams_come_from_resolv_conf() {
        let own: SocketAddr = "169.254.170.2:53".parse().expect("addr");
        let conf = "# c\nnameserver 10.0.0.2\nnameserver 169.254.170.2\nsearch x\nnameserver ::1\n";
        let got = upstreams(conf, own);
        assert_eq!(
            got,
            ["10.0.0.2:53".parse::<SocketAddr>().expect("a"), "[::1]:53".parse().expect("b")]
        );
    }
}
