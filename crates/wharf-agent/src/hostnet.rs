//! The host's side of `awsvpc` across hosts: what the server's
//! [`NetworkPlan`] asks of this host, done with `ip` and `iptables`.
//!
//! - The awsvpc Docker network (`wharf-awsvpc`, bridge `wharf-awsvpc`) takes
//!   its addresses from the instance's slice, without Docker's masquerading:
//!   tasks keep their own addresses towards the rest of their VPC.
//! - Routes: every other host's slice through that host's address (host-gw
//!   style), tagged `proto 77` so that the ones no longer wanted are found
//!   and removed.
//! - Filtering (chain `WHARF-AWSVPC`, first in Docker's `DOCKER-USER`): the
//!   VPC's own addresses and hosts outside every VPC (the load balancer, the
//!   server's host) may reach the tasks; other VPCs may not, nor may the tasks
//!   reach them.
//! - NAT (chain `WHARF-AWSVPC` of `nat`, first in `POSTROUTING`): what the
//!   tasks send outside their VPC leaves with the host's address, as Docker
//!   would have done; inside the VPC, nothing is translated.
//!
//! The rules and route changes are computed by pure functions, tested
//! alone; [`apply`] runs them.

use std::net::Ipv4Addr;
use std::process::Command;

use wharf_model::agent::{NetworkPlan, Peer};
use wharf_model::ecs::network::Ipv4Net;

/// The bridge interface of the awsvpc Docker network.
pub const BRIDGE: &str = "wharf-awsvpc";
/// The chain Wharf keeps its rules in (filter and nat tables).
pub const CHAIN: &str = "WHARF-AWSVPC";
/// The routing protocol number Wharf's agent tags its routes with.
pub const AGENT_ROUTE_PROTO: &str = "77";
/// The one the server tags the routes of its own host with.
pub const SERVER_ROUTE_PROTO: &str = "78";

/// How the awsvpc Docker network is made: its subnet and gateway, and
/// whether Docker masquerades what leaves it (when this host's own NAT rules
/// could not be set, Docker's keep the tasks' traffic flowing out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkSpec {
    /// The instance's slice (`10.208.3.0/24`).
    pub subnet: String,
    /// Its first address, the bridge's.
    pub gateway: String,
    /// Whether Docker masquerades the network's traffic.
    pub masquerade: bool,
}

impl NetworkSpec {
    /// The spec for a plan's slice; `None` if the slice cannot be read.
    pub fn of(plan: &NetworkPlan, masquerade: bool) -> Option<Self> {
        let slice: Ipv4Net = plan.slice.parse().ok()?;
        Some(Self { subnet: slice.to_string(), gateway: slice.gateway().to_string(), masquerade })
    }
}

/// Why host networking could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum HostNetError {
    /// The plan names something that is not a network.
    #[error("the network plan is not valid: {0}")]
    Plan(String),
    /// A command could not run or failed.
    #[error("`{command}` failed: {detail}")]
    Command {
        /// The command line.
        command: String,
        /// Its error output, or why it did not start.
        detail: String,
    },
}

/// The filter rules of [`CHAIN`], in order, each as `iptables -A CHAIN` arguments.
pub fn filter_rules(plan: &NetworkPlan) -> Vec<Vec<String>> {
    let r = |args: &[&str]| args.iter().map(|s| (*s).to_owned()).collect::<Vec<String>>();
    vec![
        // Into the tasks: their own VPC, anything from outside every VPC (the
        // load balancer, the server's host), nothing from another VPC.
        r(&["-o", BRIDGE, "-s", &plan.vpc, "-j", "ACCEPT"]),
        r(&["-o", BRIDGE, "-s", &plan.pool, "-j", "DROP"]),
        r(&["-o", BRIDGE, "-j", "ACCEPT"]),
        // Out of the tasks: not to another VPC.
        r(&["-i", BRIDGE, "-d", &plan.vpc, "-j", "RETURN"]),
        r(&["-i", BRIDGE, "-d", &plan.pool, "-j", "DROP"]),
    ]
}

/// The nat rules of [`CHAIN`]: nothing translated within the VPC, the host's
/// address outside it.
pub fn nat_rules(plan: &NetworkPlan) -> Vec<Vec<String>> {
    let r = |args: &[&str]| args.iter().map(|s| (*s).to_owned()).collect::<Vec<String>>();
    vec![
        r(&["-s", &plan.slice, "-d", &plan.vpc, "-j", "RETURN"]),
        r(&["-s", &plan.slice, "!", "-o", BRIDGE, "-j", "MASQUERADE"]),
    ]
}

/// A route as `ip route` shows it: a destination and the address it goes through.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Route {
    /// The destination network.
    pub destination: String,
    /// The next hop.
    pub via: String,
}

/// Reads `ip -4 route show proto N` output: the routes it lists with a `via`.
pub fn parse_routes(text: &str) -> Vec<Route> {
    text.lines()
        .filter_map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            let destination = (*words.first()?).to_owned();
            let via = words.iter().position(|w| *w == "via").and_then(|i| words.get(i + 1))?;
            Some(Route { destination, via: (*via).to_owned() })
        })
        .collect()
}

/// The routes to the peers' slices, skipping those reached through `local`
/// addresses (a slice on this host needs no route) and anything unreadable.
pub fn wanted_routes(peers: &[Peer], local: &[Ipv4Addr]) -> Vec<Route> {
    let mut out: Vec<Route> = peers
        .iter()
        .filter_map(|p| {
            let via: Ipv4Addr = p.address.parse().ok()?;
            if via.is_loopback() || via.is_unspecified() || local.contains(&via) {
                return None;
            }
            let destination: Ipv4Net = p.slice.parse().ok()?;
            Some(Route { destination: destination.to_string(), via: via.to_string() })
        })
        .collect();
    out.sort();
    out.dedup_by(|a, b| a.destination == b.destination);
    out
}

/// The destinations of the routes in an `ip -4 route show` text that are not
/// tagged `proto`: networks connected to this host (a bridge holding an
/// awsvpc slice), the administrator's routes, other programs'.
pub fn foreign_destinations(text: &str, proto: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            let tagged = words.iter().position(|w| *w == "proto").and_then(|i| words.get(i + 1));
            let destination = *words.first()?;
            (tagged != Some(&proto)).then(|| destination.to_owned())
        })
        .collect()
}

/// What to add (or replace) and what to delete to go from `current` to `wanted`.
/// Only routes into `pool` are deleted: other servers on this host tag their
/// routes the same way, each for a pool of its own, and are left alone. A
/// destination a `foreign` route already takes is never added: replacing it
/// would take away, say, the connected route of a slice served on this host.
pub fn route_changes(
    current: &[Route],
    wanted: &[Route],
    foreign: &[String],
    pool: &Ipv4Net,
) -> (Vec<Route>, Vec<Route>) {
    let add = wanted
        .iter()
        .filter(|w| !current.contains(w) && !foreign.contains(&w.destination))
        .cloned()
        .collect();
    let delete = current
        .iter()
        .filter(|c| !wanted.iter().any(|w| w.destination == c.destination))
        .filter(|c| c.destination.parse::<Ipv4Net>().is_ok_and(|d| pool.covers(&d)))
        .cloned()
        .collect();
    (add, delete)
}

fn run(args: &[&str]) -> Result<String, HostNetError> {
    let command = args.join(" ");
    let (program, rest) =
        args.split_first().ok_or_else(|| HostNetError::Plan("no command".into()))?;
    let out = Command::new(program)
        .args(rest)
        .output()
        .map_err(|e| HostNetError::Command { command: command.clone(), detail: e.to_string() })?;
    if !out.status.success() {
        return Err(HostNetError::Command {
            command,
            detail: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Makes `table`'s chain [`CHAIN`] hold exactly `rules`, jumped to first from `parent`.
fn program_chain(table: &str, parent: &str, rules: &[Vec<String>]) -> Result<(), HostNetError> {
    if run(&["iptables", "-w", "-t", table, "-N", CHAIN]).is_err() {
        run(&["iptables", "-w", "-t", table, "-F", CHAIN])?;
    }
    for rule in rules {
        let mut args = vec!["iptables", "-w", "-t", table, "-A", CHAIN];
        args.extend(rule.iter().map(String::as_str));
        run(&args)?;
    }
    if run(&["iptables", "-w", "-t", table, "-C", parent, "-j", CHAIN]).is_err() {
        run(&["iptables", "-w", "-t", table, "-I", parent, "1", "-j", CHAIN])?;
    }
    Ok(())
}

/// Makes this host's routes tagged `proto` into `pool` those to `wanted`.
pub fn sync_routes(wanted: &[Route], proto: &str, pool: &Ipv4Net) -> Result<(), HostNetError> {
    let current = parse_routes(&run(&["ip", "-4", "route", "show", "proto", proto])?);
    // The whole table is read only when a route is to be added: a pass with
    // nothing to add (the usual one) runs one command.
    let foreign = if wanted.iter().any(|w| !current.contains(w)) {
        foreign_destinations(&run(&["ip", "-4", "route", "show"])?, proto)
    } else {
        Vec::new()
    };
    let (add, delete) = route_changes(&current, wanted, &foreign, pool);
    for r in delete {
        run(&["ip", "route", "del", &r.destination, "via", &r.via, "proto", proto])?;
    }
    for r in add {
        run(&["ip", "route", "replace", &r.destination, "via", &r.via, "proto", proto])?;
    }
    Ok(())
}

/// Whether a `/proc/net/route` text (the main table) has a route to exactly
/// `net` on interface `dev`. Its addresses and masks are hexadecimal in the
/// host's byte order.
pub fn has_route(table: &str, net: &Ipv4Net, dev: &str) -> bool {
    let word = |w: &str| u32::from_str_radix(w, 16).ok().map(|v| Ipv4Addr::from(v.to_ne_bytes()));
    table.lines().skip(1).any(|l| {
        let words: Vec<&str> = l.split_whitespace().collect();
        let (Some(iface), Some(dest), Some(mask)) = (words.first(), words.get(1), words.get(7))
        else {
            return false;
        };
        let prefix = word(mask).map(|m| u32::from(m).count_ones());
        *iface == dev
            && word(dest) == Some(net.network())
            && prefix == Some(u32::from(net.prefix()))
    })
}

/// Puts back the route to this host's own slice through the awsvpc bridge
/// when something took it away (an `ip route replace` over it, then a
/// delete, by another program): without it the host answers its tasks out
/// of the default route, and they reach nothing of it (the DNS resolver, the
/// metadata endpoint). Whether it had to. It reads `/proc/net/route` (no
/// command runs while the route is there) and does nothing while the bridge
/// does not exist; `ip` refuses the route while the bridge does not hold
/// the slice's gateway.
pub fn keep_slice_route(spec: &NetworkSpec) -> Result<bool, HostNetError> {
    let net: Ipv4Net = spec.subnet.parse().map_err(HostNetError::Plan)?;
    if !std::path::Path::new("/sys/class/net").join(BRIDGE).exists() {
        return Ok(false);
    }
    let table = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    if has_route(&table, &net, BRIDGE) {
        return Ok(false);
    }
    run(&[
        "ip",
        "route",
        "add",
        &spec.subnet,
        "dev",
        BRIDGE,
        "proto",
        "kernel",
        "scope",
        "link",
        "src",
        &spec.gateway,
    ])?;
    Ok(true)
}

/// This host's IPv4 addresses (`ip -4 -o addr`).
pub fn local_addresses() -> Vec<Ipv4Addr> {
    let Ok(text) = run(&["ip", "-4", "-o", "addr", "show"]) else { return vec![] };
    text.lines()
        .filter_map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            let at = words.iter().position(|w| *w == "inet")?;
            words.get(at + 1)?.split('/').next()?.parse().ok()
        })
        .collect()
}

/// Applies a plan on this host: the filter and nat rules, and (with `routes`)
/// the routes to the peers' slices. Blocking: a handful of short commands.
pub fn apply(plan: &NetworkPlan, routes: bool) -> Result<(), HostNetError> {
    let pool: Ipv4Net = plan.pool.parse().map_err(HostNetError::Plan)?;
    for net in [&plan.vpc, &plan.slice] {
        net.parse::<Ipv4Net>().map_err(HostNetError::Plan)?;
    }
    // Docker makes DOCKER-USER when it starts; before that, FORWARD is the place.
    let parent = if run(&["iptables", "-w", "-S", "DOCKER-USER"]).is_ok() {
        "DOCKER-USER"
    } else {
        "FORWARD"
    };
    program_chain("filter", parent, &filter_rules(plan))?;
    program_chain("nat", "POSTROUTING", &nat_rules(plan))?;
    if routes {
        sync_routes(&wanted_routes(&plan.peers, &local_addresses()), AGENT_ROUTE_PROTO, &pool)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> NetworkPlan {
        NetworkPlan {
            pool: "10.208.0.0/12".into(),
            vpc: "10.209.0.0/16".into(),
            slice: "10.209.3.0/24".into(),
            peers: vec![
                Peer { address: "10.77.0.12".into(), slice: "10.209.4.0/24".into() },
                Peer { address: "10.77.0.11".into(), slice: "10.209.3.0/24".into() },
                Peer { address: "127.0.0.1".into(), slice: "10.209.9.0/24".into() },
                Peer { address: "bad".into(), slice: "10.209.5.0/24".into() },
            ],
        }
    }

    #[test]
    fn rules_keep_other_vpcs_out_and_nat_only_beyond_the_vpc() {
        let p = plan();
        let filter = filter_rules(&p);
        let text: Vec<String> = filter.iter().map(|r| r.join(" ")).collect();
        assert_eq!(
            text,
            [
                "-o wharf-awsvpc -s 10.209.0.0/16 -j ACCEPT",
                "-o wharf-awsvpc -s 10.208.0.0/12 -j DROP",
                "-o wharf-awsvpc -j ACCEPT",
                "-i wharf-awsvpc -d 10.209.0.0/16 -j RETURN",
                "-i wharf-awsvpc -d 10.208.0.0/12 -j DROP",
            ]
        );
        let nat: Vec<String> = nat_rules(&p).iter().map(|r| r.join(" ")).collect();
        assert_eq!(
            nat,
            [
                "-s 10.209.3.0/24 -d 10.209.0.0/16 -j RETURN",
                "-s 10.209.3.0/24 ! -o wharf-awsvpc -j MASQUERADE"
            ]
        );
        assert_eq!(
            NetworkSpec::of(&p, false),
            Some(NetworkSpec {
                subnet: "10.209.3.0/24".into(),
                gateway: "10.209.3.1".into(),
                masquerade: false
            })
        );
    }

    #[test]
    fn routes_go_through_peers_and_stale_ones_of_this_pool_are_deleted() {
        let local: Vec<Ipv4Addr> = vec!["10.77.0.11".parse().unwrap()];
        let wanted = wanted_routes(&plan().peers, &local);
        assert_eq!(
            wanted,
            [Route { destination: "10.209.4.0/24".into(), via: "10.77.0.12".into() }],
            "not through this host, not through loopback, not from garbage"
        );
        let current = parse_routes(
            "10.209.4.0/24 via 10.77.0.99 dev eth0 proto 77\n\
             10.209.7.0/24 via 10.77.0.13 dev eth0 proto 77\n\
             10.209.8.0/24 dev eth0 proto 77 scope link\n\
             10.170.2.0/24 via 10.77.3.12 dev whb3 proto 77\n",
        );
        assert_eq!(current.len(), 3);
        let pool: Ipv4Net = plan().pool.parse().unwrap();
        let (add, delete) = route_changes(&current, &wanted, &[], &pool);
        assert_eq!(add, wanted, "a moved peer is replaced");
        assert_eq!(
            delete,
            [Route { destination: "10.209.7.0/24".into(), via: "10.77.0.13".into() }],
            "another server's route, outside this pool, is left alone"
        );
    }

    #[test]
    fn a_route_is_found_in_proc_net_route() {
        // 10.208.0.0/24 on the bridge, a default route, 10.208.1.0/24 elsewhere.
        let hex = |a: [u8; 4]| format!("{:08X}", u32::from_ne_bytes(a));
        let table = format!(
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
             eth0\t00000000\t0100000A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
             {BRIDGE}\t{}\t00000000\t0001\t0\t0\t0\t{}\t0\t0\t0\n\
             eth0\t{}\t0C004D0A\t0003\t0\t0\t0\t{}\t0\t0\t0\n",
            hex([10, 208, 0, 0]),
            hex([255, 255, 255, 0]),
            hex([10, 208, 1, 0]),
            hex([255, 255, 255, 0]),
        );
        let net = |s: &str| s.parse::<Ipv4Net>().unwrap();
        assert!(has_route(&table, &net("10.208.0.0/24"), BRIDGE));
        assert!(!has_route(&table, &net("10.208.1.0/24"), BRIDGE), "on another interface");
        assert!(!has_route(&table, &net("10.208.0.0/16"), BRIDGE), "another prefix");
        assert!(!has_route(&table, &net("10.208.2.0/24"), BRIDGE));
        assert!(!has_route("", &net("10.208.0.0/24"), BRIDGE));
    }

    #[test]
    fn a_destination_another_route_takes_is_never_replaced() {
        let all = "default via 10.0.0.1 dev eth0\n\
                   10.209.4.0/24 dev wharf-awsvpc proto kernel scope link src 10.209.4.1\n\
                   10.209.7.0/24 via 10.77.0.13 dev eth0 proto 77\n\
                   10.209.9.0/24 via 10.77.0.14 dev eth0 proto static\n";
        let foreign = foreign_destinations(all, "77");
        assert_eq!(foreign, ["default", "10.209.4.0/24", "10.209.9.0/24"]);
        let wanted = [
            Route { destination: "10.209.4.0/24".into(), via: "10.77.0.12".into() },
            Route { destination: "10.209.5.0/24".into(), via: "10.77.0.12".into() },
        ];
        let pool: Ipv4Net = plan().pool.parse().unwrap();
        let (add, _) = route_changes(&[], &wanted, &foreign, &pool);
        assert_eq!(
            add,
            [Route { destination: "10.209.5.0/24".into(), via: "10.77.0.12".into() }],
            "the slice connected here keeps its kernel route"
        );
    }
}
