//! ELBv2 ARNs: `arn:aws:elasticloadbalancing:REGION:ACCOUNT:` followed by
//! `loadbalancer/app/NAME/ID`, `targetgroup/NAME/ID`,
//! `listener/app/NAME/LBID/ID` or `listener-rule/app/NAME/LBID/LID/ID`.
//! A listener's and a rule's ARN carry their load balancer's (and a rule's
//! its listener's), so the parent of each is read off the ARN.

use crate::arn::Scope;

/// What an ELBv2 ARN names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElbArnKind {
    /// `loadbalancer/app/...`
    LoadBalancer,
    /// `targetgroup/...`
    TargetGroup,
    /// `listener/app/...`
    Listener,
    /// `listener-rule/app/...`
    Rule,
}

/// A parsed ELBv2 ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElbArn<'a> {
    /// What it names.
    pub kind: ElbArnKind,
    /// The whole ARN up to the resource (`arn:aws:elasticloadbalancing:R:A:`).
    pub prefix: &'a str,
    /// The path segments after the resource type (and `app/`).
    pub parts: Vec<&'a str>,
}

impl<'a> ElbArn<'a> {
    /// Parses an ARN of one of the four kinds; `None` if it is not one.
    pub fn parse(arn: &'a str) -> Option<Self> {
        let fields: Vec<&str> = arn.splitn(6, ':').collect();
        let [a, _partition, service, _region, _account, resource] = fields[..] else {
            return None;
        };
        if a != "arn" || service != "elasticloadbalancing" {
            return None;
        }
        let prefix = &arn[..arn.len() - resource.len()];
        let (kind, rest, n) = if let Some(r) = resource.strip_prefix("loadbalancer/app/") {
            (ElbArnKind::LoadBalancer, r, 2)
        } else if let Some(r) = resource.strip_prefix("targetgroup/") {
            (ElbArnKind::TargetGroup, r, 2)
        } else if let Some(r) = resource.strip_prefix("listener/app/") {
            (ElbArnKind::Listener, r, 3)
        } else if let Some(r) = resource.strip_prefix("listener-rule/app/") {
            (ElbArnKind::Rule, r, 4)
        } else {
            return None;
        };
        let parts: Vec<&str> = rest.split('/').collect();
        if parts.len() != n || parts.iter().any(|p| p.is_empty()) {
            return None;
        }
        Some(Self { kind, prefix, parts })
    }

    /// The load balancer a listener or rule belongs to (or a load
    /// balancer's own ARN).
    pub fn load_balancer(&self) -> Option<String> {
        match self.kind {
            ElbArnKind::TargetGroup => None,
            _ => {
                Some(format!("{}loadbalancer/app/{}/{}", self.prefix, self.parts[0], self.parts[1]))
            }
        }
    }

    /// The listener a rule belongs to.
    pub fn listener(&self) -> Option<String> {
        match self.kind {
            ElbArnKind::Rule => Some(format!(
                "{}listener/app/{}/{}/{}",
                self.prefix, self.parts[0], self.parts[1], self.parts[2]
            )),
            _ => None,
        }
    }
}

/// Builds ELBv2 ARNs in a region and account.
#[derive(Debug, Clone)]
pub struct ElbArns<'a>(pub Scope<'a>);

impl ElbArns<'_> {
    fn base(&self, resource: &str) -> String {
        format!("arn:aws:elasticloadbalancing:{}:{}:{resource}", self.0.region, self.0.account)
    }

    /// A load balancer's ARN.
    pub fn load_balancer(&self, name: &str, id: &str) -> String {
        self.base(&format!("loadbalancer/app/{name}/{id}"))
    }

    /// A target group's ARN.
    pub fn target_group(&self, name: &str, id: &str) -> String {
        self.base(&format!("targetgroup/{name}/{id}"))
    }
}

/// A listener's ARN under its load balancer's.
pub fn listener_arn(load_balancer_arn: &str, id: &str) -> Option<String> {
    let lb = ElbArn::parse(load_balancer_arn).filter(|a| a.kind == ElbArnKind::LoadBalancer)?;
    Some(format!("{}listener/app/{}/{}/{id}", lb.prefix, lb.parts[0], lb.parts[1]))
}

/// A rule's ARN under its listener's.
pub fn rule_arn(listener_arn: &str, id: &str) -> Option<String> {
    let l = ElbArn::parse(listener_arn).filter(|a| a.kind == ElbArnKind::Listener)?;
    Some(format!("{}listener-rule/app/{}/{}/{}/{id}", l.prefix, l.parts[0], l.parts[1], l.parts[2]))
}

/// Whether `arn` is a well-formed ARN of `kind`.
pub fn is(kind: ElbArnKind, arn: &str) -> bool {
    ElbArn::parse(arn).is_some_and(|a| a.kind == kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_are_read_off_the_arn() {
        let scope = Scope { region: "us-east-1", account: "000000000000" };
        let lb = ElbArns(scope).load_balancer("web", "50dc6c495c0c9188");
        assert_eq!(
            lb,
            "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/web/50dc6c495c0c9188"
        );
        let l = listener_arn(&lb, "f2f7dc8efc522ab2").unwrap();
        let r = rule_arn(&l, "9683b2d02a6cabee").unwrap();
        assert!(r.ends_with(
            ":listener-rule/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee"
        ));
        let parsed = ElbArn::parse(&r).unwrap();
        assert_eq!(parsed.listener().as_deref(), Some(l.as_str()));
        assert_eq!(parsed.load_balancer().as_deref(), Some(lb.as_str()));
        assert!(ElbArn::parse("arn:aws:elasticloadbalancing:us-east-1:0:targetgroup/x").is_none());
        assert!(!is(ElbArnKind::Listener, &lb));
    }
}
