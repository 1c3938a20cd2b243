//! IPv4 CIDR blocks as EC2 reads them (`10.0.0.0/16`): parsing, overlap,
//! containment.

use std::fmt;
use std::net::Ipv4Addr;

/// An IPv4 CIDR block whose host bits are zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cidr {
    addr: u32,
    prefix: u8,
}

fn mask(prefix: u8) -> u32 {
    match prefix {
        0 => 0,
        p => u32::MAX << (32 - u32::from(p.min(32))),
    }
}

impl Cidr {
    /// Parses `a.b.c.d/n`; `None` if it is not a block or has host bits set.
    pub fn parse(s: &str) -> Option<Self> {
        let (addr, prefix) = s.split_once('/')?;
        let addr: Ipv4Addr = addr.parse().ok()?;
        if prefix.is_empty() || prefix.len() > 2 || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let prefix: u8 = prefix.parse().ok().filter(|p| *p <= 32)?;
        let addr = u32::from(addr);
        (addr & mask(prefix) == addr).then_some(Self { addr, prefix })
    }

    /// The block `addr/prefix` with host bits cleared.
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Self {
        let prefix = prefix.min(32);
        Self { addr: u32::from(addr) & mask(prefix), prefix }
    }

    /// Its prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Its first address.
    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.addr)
    }

    /// How many addresses it holds.
    pub fn size(&self) -> u64 {
        1u64 << (32 - u32::from(self.prefix))
    }

    /// Whether `ip` is in it.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & mask(self.prefix) == self.addr
    }

    /// Whether `other` lies wholly inside it.
    pub fn covers(&self, other: &Cidr) -> bool {
        other.prefix >= self.prefix && self.contains(other.network())
    }

    /// Whether the two share any address.
    pub fn overlaps(&self, other: &Cidr) -> bool {
        self.covers(other) || other.covers(self)
    }

    /// Its `index`th block of `prefix` (`None` past its end).
    pub fn nth(&self, prefix: u8, index: u32) -> Option<Cidr> {
        if prefix < self.prefix || prefix > 32 {
            return None;
        }
        let size = 1u64 << (32 - u32::from(prefix));
        let offset = u64::from(index) * size;
        (offset < self.size())
            .then(|| Cidr { addr: self.addr + u32::try_from(offset).unwrap_or(0), prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network(), self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_blocks_and_refuses_host_bits() {
        let c = Cidr::parse("172.31.0.0/16").expect("block");
        assert_eq!(c.to_string(), "172.31.0.0/16");
        assert!(Cidr::parse("172.31.0.1/16").is_none());
        assert!(Cidr::parse("172.31.0.0").is_none());
        assert!(Cidr::parse("172.31.0.0/33").is_none());
        assert!(Cidr::parse("172.31.0.0/+1").is_none());
        assert!(Cidr::parse("0.0.0.0/0").is_some());
    }

    #[test]
    fn overlap_and_cover() {
        let vpc = Cidr::parse("10.0.0.0/16").expect("vpc");
        let a = Cidr::parse("10.0.1.0/24").expect("a");
        let b = Cidr::parse("10.0.0.0/23").expect("b");
        assert!(vpc.covers(&a) && a.overlaps(&b) && b.overlaps(&a));
        assert!(!a.overlaps(&Cidr::parse("10.0.2.0/24").expect("c")));
        assert_eq!(vpc.nth(20, 1).map(|c| c.to_string()).as_deref(), Some("10.0.16.0/20"));
        assert_eq!(vpc.nth(20, 16), None);
        assert_eq!(a.size(), 256);
    }
}
