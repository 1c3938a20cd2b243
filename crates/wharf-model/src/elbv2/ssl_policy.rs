//! ALB's predefined security policies, by name: which TLS versions each
//! allows. A listener's `SslPolicy` must be one of them.
//!
//! What the data plane serves of a policy: TLS 1.2 and 1.3 where the policy
//! allows them, with the ECDHE AES-GCM suites (and TLS 1.3's three). TLS 1.0
//! and 1.1, CBC and non-forward-secret suites, which older policies also
//! allow, are not served: the TLS library Wharf uses (rustls) does not
//! implement them. A client that can speak TLS 1.2 connects under every
//! policy but `ELBSecurityPolicy-TLS13-1-3-*`, which is TLS 1.3 only on an
//! ALB too.

/// The policy an HTTPS listener gets when CreateListener names none.
pub const DEFAULT: &str = "ELBSecurityPolicy-2016-08";

/// TLS versions a policy allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Versions {
    /// TLS 1.0 and 1.1 (not served by Wharf).
    pub legacy: bool,
    /// TLS 1.2.
    pub tls12: bool,
    /// TLS 1.3.
    pub tls13: bool,
}

const LEGACY_TO_12: Versions = Versions { legacy: true, tls12: true, tls13: false };
const ONLY_12: Versions = Versions { legacy: false, tls12: true, tls13: false };
const LEGACY_TO_13: Versions = Versions { legacy: true, tls12: true, tls13: true };
const FROM_12: Versions = Versions { legacy: false, tls12: true, tls13: true };
const ONLY_13: Versions = Versions { legacy: false, tls12: false, tls13: true };

/// Every predefined policy an Application Load Balancer accepts.
pub const POLICIES: &[(&str, Versions)] = &[
    ("ELBSecurityPolicy-TLS13-1-2-2021-06", FROM_12),
    ("ELBSecurityPolicy-TLS13-1-2-Res-2021-06", FROM_12),
    ("ELBSecurityPolicy-TLS13-1-2-Ext1-2021-06", FROM_12),
    ("ELBSecurityPolicy-TLS13-1-2-Ext2-2021-06", FROM_12),
    ("ELBSecurityPolicy-TLS13-1-1-2021-06", LEGACY_TO_13),
    ("ELBSecurityPolicy-TLS13-1-0-2021-06", LEGACY_TO_13),
    ("ELBSecurityPolicy-TLS13-1-3-2021-06", ONLY_13),
    ("ELBSecurityPolicy-TLS13-1-3-FIPS-2023-04", ONLY_13),
    ("ELBSecurityPolicy-TLS13-1-2-Res-FIPS-2023-04", FROM_12),
    ("ELBSecurityPolicy-TLS13-1-2-FIPS-2023-04", FROM_12),
    ("ELBSecurityPolicy-TLS13-1-2-Ext0-FIPS-2023-04", FROM_12),
    ("ELBSecurityPolicy-TLS13-1-2-Ext1-FIPS-2023-04", FROM_12),
    ("ELBSecurityPolicy-TLS13-1-2-Ext2-FIPS-2023-04", FROM_12),
    ("ELBSecurityPolicy-TLS13-1-1-FIPS-2023-04", LEGACY_TO_13),
    ("ELBSecurityPolicy-TLS13-1-0-FIPS-2023-04", LEGACY_TO_13),
    ("ELBSecurityPolicy-FS-1-2-Res-2020-10", ONLY_12),
    ("ELBSecurityPolicy-FS-1-2-Res-2019-08", ONLY_12),
    ("ELBSecurityPolicy-FS-1-2-2019-08", ONLY_12),
    ("ELBSecurityPolicy-FS-1-1-2019-08", LEGACY_TO_12),
    ("ELBSecurityPolicy-FS-2018-06", LEGACY_TO_12),
    ("ELBSecurityPolicy-TLS-1-2-Ext-2018-06", ONLY_12),
    ("ELBSecurityPolicy-TLS-1-2-2017-01", ONLY_12),
    ("ELBSecurityPolicy-TLS-1-1-2017-01", LEGACY_TO_12),
    ("ELBSecurityPolicy-2016-08", LEGACY_TO_12),
    ("ELBSecurityPolicy-TLS-1-0-2015-04", LEGACY_TO_12),
    ("ELBSecurityPolicy-2015-05", LEGACY_TO_12),
];

/// The TLS versions of the policy named `name`, if ALB has it.
pub fn versions(name: &str) -> Option<Versions> {
    POLICIES.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_a_policy_and_every_policy_serves_something() {
        assert!(versions(DEFAULT).is_some());
        assert!(versions("ELBSecurityPolicy-Nope").is_none());
        for (name, v) in POLICIES {
            assert!(v.tls12 || v.tls13, "{name}");
        }
    }
}
