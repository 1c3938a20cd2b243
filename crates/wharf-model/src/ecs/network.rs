//! `awsvpc` addresses across hosts: every cluster is a VPC with its own range,
//! carved from the server's pool (`--vpc-cidr`), and every container instance
//! gets its own slice of its cluster's range, from which its awsvpc tasks take
//! their addresses. Hosts route each other's slices (host-gw style: a slice is
//! reached through its host's address), so a task's address is reachable
//! without NAT from the cluster's other hosts, the load balancer and the
//! server's host; tasks of different VPCs are not let through to each other.
//!
//! Pure: [`VpcAllocations`] is stored as one document and changed in one
//! transaction per registration.

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

/// The prefix length of a cluster's VPC range.
pub const VPC_PREFIX: u8 = 16;
/// The prefix length of an instance's slice.
pub const SLICE_PREFIX: u8 = 24;
/// The server's default pool of VPC ranges (sixteen VPCs of 256 slices).
pub const DEFAULT_POOL: &str = "10.208.0.0/12";

/// An IPv4 network: an address and a prefix length, the address's host bits zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ipv4Net {
    addr: u32,
    prefix: u8,
}

impl Ipv4Net {
    /// The network `addr/prefix` (host bits cleared).
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Option<Self> {
        (prefix <= 32).then(|| Self { addr: u32::from(addr) & mask(prefix), prefix })
    }

    /// Its first address.
    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.addr)
    }

    /// Its prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Its first usable address (`.1` of a /24): a bridge's gateway.
    pub fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.addr + 1)
    }

    /// Whether `ip` is in it.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & mask(self.prefix) == self.addr
    }

    /// Whether `other` lies wholly inside it.
    pub fn covers(&self, other: &Ipv4Net) -> bool {
        other.prefix >= self.prefix && self.contains(other.network())
    }

    /// How many networks of `prefix` it holds (0 if `prefix` is shorter).
    pub fn count(&self, prefix: u8) -> u32 {
        if prefix < self.prefix || prefix > 32 {
            return 0;
        }
        1u32.checked_shl(u32::from(prefix - self.prefix)).unwrap_or(u32::MAX)
    }

    /// Its `index`th sub-network of `prefix`, if it has one.
    pub fn subnet(&self, prefix: u8, index: u32) -> Option<Ipv4Net> {
        if index >= self.count(prefix) {
            return None;
        }
        let size = 1u64 << (32 - u32::from(prefix));
        let addr = u64::from(self.addr) + u64::from(index) * size;
        Some(Ipv4Net { addr: u32::try_from(addr).ok()?, prefix })
    }
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix.min(32)))
    }
}

impl fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network(), self.prefix)
    }
}

impl std::str::FromStr for Ipv4Net {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (addr, prefix) =
            s.split_once('/').ok_or_else(|| format!("'{s}' is not a CIDR block (a.b.c.d/n)"))?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| format!("'{s}': '{addr}' is not IPv4"))?;
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|p| *p <= 32)
            .ok_or_else(|| format!("'{s}': the prefix must be 0 to 32"))?;
        let net = Ipv4Net::new(addr, prefix).ok_or_else(|| format!("'{s}' is not a network"))?;
        if net.network() != addr {
            return Err(format!("'{s}' has host bits set; did you mean {net}?"));
        }
        Ok(net)
    }
}

/// One cluster's VPC: its range and its instances' slices by instance ID.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterVpc {
    /// The index of its range in the pool.
    pub index: u32,
    /// Each instance's slice, by its index in the range.
    pub slices: BTreeMap<String, u32>,
}

/// Every cluster's VPC, by `region/cluster`: the stored document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VpcAllocations {
    /// By `region/cluster`.
    pub clusters: BTreeMap<String, ClusterVpc>,
}

/// What an instance was given: its cluster's range and its own slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allocation {
    /// The cluster's VPC range.
    pub vpc: Ipv4Net,
    /// The instance's slice of it.
    pub slice: Ipv4Net,
}

/// The key a cluster is kept under.
pub fn cluster_key(region: &str, cluster: &str) -> String {
    format!("{region}/{cluster}")
}

/// `vpc-` and 17 hex digits from the key: the cluster's VPC ID (stable).
pub fn vpc_id(region: &str, cluster: &str) -> String {
    format!("vpc-{:017x}", fnv(&cluster_key(region, cluster)) & 0x1_ffff_ffff_ffff_ffff)
}

/// `subnet-` and 17 hex digits: the ID of an instance's slice (stable).
pub fn subnet_id(slice: &Ipv4Net) -> String {
    format!("subnet-{:017x}", fnv(&slice.to_string()) & 0x1_ffff_ffff_ffff_ffff)
}

fn fnv(s: &str) -> u128 {
    s.bytes().fold(0x6c62_272e_07bb_0142_62b8_2175_6295_c58d_u128, |h, b| {
        (h ^ u128::from(b)).wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013B)
    })
}

impl VpcAllocations {
    /// The allocation of `instance` in `region/cluster`, giving the cluster a
    /// range and the instance a slice (the lowest free ones) if they have none.
    pub fn allocate(
        &mut self,
        pool: Ipv4Net,
        region: &str,
        cluster: &str,
        instance: &str,
    ) -> Result<Allocation, String> {
        let key = cluster_key(region, cluster);
        if !self.clusters.contains_key(&key) {
            let used: Vec<u32> = self.clusters.values().map(|c| c.index).collect();
            let index =
                (0..pool.count(VPC_PREFIX)).find(|i| !used.contains(i)).ok_or_else(|| {
                    format!("every VPC range of the pool {pool} is taken (one per cluster)")
                })?;
            self.clusters.insert(key.clone(), ClusterVpc { index, slices: BTreeMap::new() });
        }
        let vpc_entry = self.clusters.get_mut(&key).ok_or("the cluster's VPC vanished")?;
        let vpc =
            pool.subnet(VPC_PREFIX, vpc_entry.index).ok_or("the VPC lies outside the pool")?;
        let index = match vpc_entry.slices.get(instance) {
            Some(i) => *i,
            None => {
                let used: Vec<u32> = vpc_entry.slices.values().copied().collect();
                let i = (0..vpc.count(SLICE_PREFIX))
                    .find(|i| !used.contains(i))
                    .ok_or_else(|| format!("every slice of the VPC {vpc} is taken"))?;
                vpc_entry.slices.insert(instance.to_owned(), i);
                i
            }
        };
        let slice = vpc.subnet(SLICE_PREFIX, index).ok_or("the slice lies outside the VPC")?;
        Ok(Allocation { vpc, slice })
    }

    /// Gives back an instance's slice (it was deregistered).
    pub fn release(&mut self, region: &str, cluster: &str, instance: &str) -> bool {
        let key = cluster_key(region, cluster);
        self.clusters.get_mut(&key).is_some_and(|c| c.slices.remove(instance).is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn networks_parse_and_divide() {
        let pool = net("10.208.0.0/12");
        assert_eq!(pool.count(16), 16);
        assert_eq!(pool.subnet(16, 1), Some(net("10.209.0.0/16")));
        assert_eq!(pool.subnet(16, 16), None);
        assert_eq!(net("10.209.0.0/16").subnet(24, 3), Some(net("10.209.3.0/24")));
        assert_eq!(net("10.209.3.0/24").gateway(), "10.209.3.1".parse::<Ipv4Addr>().unwrap());
        assert!(pool.covers(&net("10.209.3.0/24")));
        assert!(!net("10.209.0.0/16").covers(&net("10.208.3.0/24")));
        assert!("10.208.0.1/12".parse::<Ipv4Net>().unwrap_err().contains("host bits"));
        assert!("10.208.0.0".parse::<Ipv4Net>().is_err());
        assert!("10.208.0.0/33".parse::<Ipv4Net>().is_err());
        assert_eq!(net("0.0.0.0/0").count(16), 65_536);
    }

    #[test]
    fn clusters_get_ranges_and_instances_slices_once() {
        let pool = net("10.208.0.0/15");
        let mut a = VpcAllocations::default();
        let first = a.allocate(pool, "us-east-1", "web", "i1").unwrap();
        assert_eq!((first.vpc, first.slice), (net("10.208.0.0/16"), net("10.208.0.0/24")));
        let second = a.allocate(pool, "us-east-1", "web", "i2").unwrap();
        assert_eq!(second.slice, net("10.208.1.0/24"));
        assert_eq!(a.allocate(pool, "us-east-1", "web", "i1").unwrap(), first, "kept");
        let other = a.allocate(pool, "us-east-1", "batch", "i3").unwrap();
        assert_eq!(other.vpc, net("10.209.0.0/16"));
        assert!(a.allocate(pool, "eu-west-1", "web", "i4").unwrap_err().contains("every VPC"));
        assert!(a.release("us-east-1", "web", "i1"));
        assert_eq!(a.allocate(pool, "us-east-1", "web", "i5").unwrap().slice, first.slice);
        assert_ne!(vpc_id("us-east-1", "web"), vpc_id("us-east-1", "batch"));
        assert!(vpc_id("us-east-1", "web").starts_with("vpc-") && vpc_id("a", "b").len() == 21);
    }
}
