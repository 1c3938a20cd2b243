//! Typed access to the store's ELBv2 rows: records in, records out, ELBv2
//! errors. [`read`] and [`write`] run a closure on a snapshot or inside one
//! transaction; an `Err` from a write's closure rolls back all it wrote.

use std::sync::{Arc, Mutex};

use serde::de::DeserializeOwned;
use serde::Serialize;
use wharf_model::elbv2::shapes::Rule;
use wharf_model::elbv2::{
    ElbError, ListenerRecord, LoadBalancerRecord, TargetGroupRecord, TargetRecord,
};
use wharf_model::EcsError;
use wharf_store::elb::{sort_key, ElbKind, ElbRow, ElbTx, ElbUse, ElbView, TargetRow};
use wharf_store::{Store, StoreError};

fn failed(e: StoreError) -> ElbError {
    tracing::error!(error = %e, "ELBv2 store failure");
    ElbError::internal()
}

fn decode<T: DeserializeOwned>(row: &ElbRow) -> Result<T, ElbError> {
    serde_json::from_str(&row.body).map_err(|e| {
        tracing::error!(arn = %row.arn, error = %e, "stored ELBv2 record does not parse");
        ElbError::internal()
    })
}

fn encode<T: Serialize>(v: &T) -> Result<String, ElbError> {
    serde_json::to_string(v).map_err(|e| {
        tracing::error!(error = %e, "ELBv2 record does not serialise");
        ElbError::internal()
    })
}

/// The ELBv2 rows of one region, typed; reads on any view, writes on a
/// transaction.
#[derive(Debug)]
pub struct Elb<'a, S: ?Sized>(pub &'a S);

impl<S: ElbView + ?Sized> Elb<'_, S> {
    fn one<T: DeserializeOwned>(&self, kind: ElbKind, arn: &str) -> Result<Option<T>, ElbError> {
        match self.0.get(arn).map_err(failed)? {
            Some(row) if row.kind == kind => decode(&row).map(Some),
            _ => Ok(None),
        }
    }

    fn all<T: DeserializeOwned>(
        &self,
        kind: ElbKind,
        parent: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, T)>, ElbError> {
        let rows = self.0.list(kind, parent, after, limit).map_err(failed)?;
        rows.iter().map(|r| decode(r).map(|v| (r.sort.clone(), v))).collect()
    }

    fn found<T: DeserializeOwned>(
        &self,
        kind: ElbKind,
        parent: &str,
        sort: &str,
    ) -> Result<Option<T>, ElbError> {
        match self.0.find(kind, parent, sort).map_err(failed)? {
            Some(row) => decode(&row).map(Some),
            None => Ok(None),
        }
    }

    /// A load balancer by ARN.
    pub fn load_balancer(&self, arn: &str) -> Result<Option<LoadBalancerRecord>, ElbError> {
        self.one(ElbKind::LoadBalancer, arn)
    }

    /// A load balancer by name.
    pub fn load_balancer_named(&self, name: &str) -> Result<Option<LoadBalancerRecord>, ElbError> {
        self.found(ElbKind::LoadBalancer, "", name)
    }

    /// Load balancers in name order after `after`: (name, record).
    pub fn load_balancers(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, LoadBalancerRecord)>, ElbError> {
        self.all(ElbKind::LoadBalancer, "", after, limit)
    }

    /// A target group by ARN.
    pub fn target_group(&self, arn: &str) -> Result<Option<TargetGroupRecord>, ElbError> {
        self.one(ElbKind::TargetGroup, arn)
    }

    /// A target group by name.
    pub fn target_group_named(&self, name: &str) -> Result<Option<TargetGroupRecord>, ElbError> {
        self.found(ElbKind::TargetGroup, "", name)
    }

    /// Target groups in name order after `after`: (name, record).
    pub fn target_groups(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, TargetGroupRecord)>, ElbError> {
        self.all(ElbKind::TargetGroup, "", after, limit)
    }

    /// A listener by ARN.
    pub fn listener(&self, arn: &str) -> Result<Option<ListenerRecord>, ElbError> {
        self.one(ElbKind::Listener, arn)
    }

    /// A load balancer's listener on a port.
    pub fn listener_on(&self, lb: &str, port: i32) -> Result<Option<ListenerRecord>, ElbError> {
        self.found(ElbKind::Listener, lb, &sort_key(port))
    }

    /// A load balancer's listeners in port order.
    pub fn listeners(&self, lb: &str) -> Result<Vec<ListenerRecord>, ElbError> {
        Ok(self
            .all(ElbKind::Listener, lb, None, usize::MAX >> 1)?
            .into_iter()
            .map(|(_, l)| l)
            .collect())
    }

    /// A non-default rule by ARN.
    pub fn rule(&self, arn: &str) -> Result<Option<Rule>, ElbError> {
        self.one(ElbKind::Rule, arn)
    }

    /// A listener's rule at a priority.
    pub fn rule_at(&self, listener: &str, priority: i32) -> Result<Option<Rule>, ElbError> {
        self.found(ElbKind::Rule, listener, &sort_key(priority))
    }

    /// A listener's non-default rules in priority order.
    pub fn rules(&self, listener: &str) -> Result<Vec<Rule>, ElbError> {
        Ok(self
            .all(ElbKind::Rule, listener, None, usize::MAX >> 1)?
            .into_iter()
            .map(|(_, r)| r)
            .collect())
    }

    /// How many rows of a kind a parent has.
    pub fn count(&self, kind: ElbKind, parent: &str) -> Result<usize, ElbError> {
        self.0.count(kind, parent).map_err(failed)
    }

    /// The listeners and rules forwarding to a target group.
    pub fn uses_of(&self, tg: &str) -> Result<Vec<ElbUse>, ElbError> {
        self.0.uses_of(tg).map_err(failed)
    }

    /// The forwards of a load balancer's listeners and rules.
    pub fn uses_in(&self, lb: &str) -> Result<Vec<ElbUse>, ElbError> {
        self.0.uses_in(lb).map_err(failed)
    }

    /// A target group's targets.
    pub fn targets(&self, tg: &str) -> Result<Vec<TargetRecord>, ElbError> {
        let rows = self.0.targets(tg).map_err(failed)?;
        rows.iter()
            .map(|r| {
                serde_json::from_str(&r.body).map_err(|e| {
                    tracing::error!(target_group = tg, error = %e, "stored target does not parse");
                    ElbError::internal()
                })
            })
            .collect()
    }

    /// A resource's tags.
    pub fn tags(&self, arn: &str) -> Result<Vec<(String, String)>, ElbError> {
        self.0.tags(arn).map_err(failed)
    }
}

impl<S: ElbTx + ?Sized> Elb<'_, S> {
    fn put<T: Serialize>(
        &self,
        kind: ElbKind,
        arn: &str,
        parent: &str,
        sort: String,
        record: &T,
    ) -> Result<(), ElbError> {
        let row = ElbRow {
            kind,
            arn: arn.to_owned(),
            parent: parent.to_owned(),
            sort,
            body: encode(record)?,
        };
        self.0.put(&row).map_err(failed)
    }

    /// Stores a load balancer.
    pub fn put_load_balancer(&self, r: &LoadBalancerRecord) -> Result<(), ElbError> {
        let lb = &r.load_balancer;
        let (arn, name) = (lb.load_balancer_arn.as_deref(), lb.load_balancer_name.as_deref());
        self.put(ElbKind::LoadBalancer, arn.unwrap_or(""), "", name.unwrap_or("").to_owned(), r)
    }

    /// Stores a target group.
    pub fn put_target_group(&self, r: &TargetGroupRecord) -> Result<(), ElbError> {
        let tg = &r.target_group;
        let (arn, name) = (tg.target_group_arn.as_deref(), tg.target_group_name.as_deref());
        self.put(ElbKind::TargetGroup, arn.unwrap_or(""), "", name.unwrap_or("").to_owned(), r)
    }

    /// Stores a listener and what its default actions forward to.
    pub fn put_listener(&self, r: &ListenerRecord, forwards_to: &[String]) -> Result<(), ElbError> {
        let l = &r.listener;
        let arn = l.listener_arn.as_deref().unwrap_or("");
        let lb = l.load_balancer_arn.as_deref().unwrap_or("");
        self.put(ElbKind::Listener, arn, lb, sort_key(l.port.unwrap_or(0)), r)?;
        self.0.set_uses(arn, lb, forwards_to).map_err(failed)
    }

    /// Stores a rule of a listener and what it forwards to.
    pub fn put_rule(
        &self,
        listener: &str,
        lb: &str,
        r: &Rule,
        forwards_to: &[String],
    ) -> Result<(), ElbError> {
        let arn = r.rule_arn.as_deref().unwrap_or("");
        let priority = r.priority.as_deref().and_then(|p| p.parse().ok()).unwrap_or(0);
        self.put(ElbKind::Rule, arn, listener, sort_key(priority), r)?;
        self.0.set_uses(arn, lb, forwards_to).map_err(failed)
    }

    /// Removes a row with its forwards, targets and tags.
    pub fn delete(&self, arn: &str) -> Result<(), ElbError> {
        self.0.delete(arn).map_err(failed)
    }

    /// Stores a target of a group.
    pub fn put_target(&self, tg: &str, t: &TargetRecord) -> Result<(), ElbError> {
        let row = TargetRow {
            id: t.target.id.clone().unwrap_or_default(),
            port: t.target.port.unwrap_or(0),
            body: encode(t)?,
        };
        self.0.put_target(tg, &row).map_err(failed)
    }

    /// Removes a target of a group.
    pub fn delete_target(&self, tg: &str, id: &str, port: i32) -> Result<(), ElbError> {
        self.0.delete_target(tg, id, port).map_err(failed)
    }

    /// Adds or overwrites tags.
    pub fn put_tags(&self, arn: &str, tags: &[(String, String)]) -> Result<(), ElbError> {
        self.0.put_tags(arn, tags).map_err(failed)
    }

    /// Removes tags by key.
    pub fn delete_tags(&self, arn: &str, keys: &[String]) -> Result<(), ElbError> {
        self.0.delete_tags(arn, keys).map_err(failed)
    }
}

type Slot<T> = Arc<Mutex<Option<Result<T, ElbError>>>>;

fn take<T>(slot: &Slot<T>, outcome: Result<(), StoreError>) -> Result<T, ElbError> {
    let answer = slot.lock().ok().and_then(|mut s| s.take());
    match (answer, outcome) {
        // The closure's own answer, refused or not (a refusal rolled back).
        (Some(Err(e)), _) => Err(e),
        (Some(Ok(v)), Ok(())) => Ok(v),
        (_, Err(e)) => Err(failed(e)),
        (None, Ok(())) => Err(ElbError::internal()),
    }
}

/// The marker a refused write returns to the store so it rolls back; the
/// real error travels in the slot.
fn refused() -> StoreError {
    StoreError::Rejected(EcsError::client("refused by ELBv2"))
}

/// Runs `f` on a snapshot of the region's ELBv2 state.
pub async fn read<T, F>(store: &dyn Store, region: &str, f: F) -> Result<T, ElbError>
where
    T: Send + 'static,
    F: for<'a> FnOnce(&Elb<'a, dyn ElbView + 'a>) -> Result<T, ElbError> + Send + 'static,
{
    let slot: Slot<T> = Arc::new(Mutex::new(None));
    let out = Arc::clone(&slot);
    let outcome = store
        .elb_read(
            region,
            Box::new(move |v| {
                let r = f(&Elb(v));
                if let Ok(mut s) = out.lock() {
                    *s = Some(r);
                }
                Ok(())
            }),
        )
        .await;
    take(&slot, outcome)
}

/// Runs `f` inside one transaction on the region's ELBv2 state; an `Err`
/// leaves everything as it was.
pub async fn write<T, F>(store: &dyn Store, region: &str, f: F) -> Result<T, ElbError>
where
    T: Send + 'static,
    F: for<'a> Fn(&Elb<'a, dyn ElbTx + 'a>) -> Result<T, ElbError> + Send + 'static,
{
    let slot: Slot<T> = Arc::new(Mutex::new(None));
    let out = Arc::clone(&slot);
    let outcome = store
        .elb_write(
            region,
            Box::new(move |tx| {
                let r = f(&Elb(tx));
                let ok = r.is_ok();
                if let Ok(mut s) = out.lock() {
                    *s = Some(r);
                }
                if ok {
                    Ok(())
                } else {
                    Err(refused())
                }
            }),
        )
        .await;
    take(&slot, outcome)
}
