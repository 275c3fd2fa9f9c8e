//! Layer 3, runtime redaction: mask what a [`Decision`] does not let the caller see.
//!
//! - Typed records ([`redact`]): each PHI field is masked by [`PhiRecord::redact_phi`]: a `String`
//!   becomes [`REDACTED`], an `Option` becomes `None`, any other type its `Default`.
//! - JSON ([`redact_json`]): at any depth, in objects and in arrays, the value of every key that is
//!   a registered PHI column or JSON name of the record's table is replaced by the string
//!   [`REDACTED`], whatever it was (string, number, boolean, null, array or object). The walk uses
//!   an explicit stack, so no nesting depth can overflow it; nothing here panics.
//!
//! Both do nothing when the decision shows PHI, and mask when it is `Masked` or `Denied` (a
//! denied record should not be rendered at all; if it is, its PHI is still masked).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use openinsure_core::tenancy::Caller;
use serde_json::Value;
use uuid::Uuid;

use crate::access::{AccessContext, Decision, decide};
use crate::audit::{AuditAction, AuditDraft};
use crate::registry::Registry;
use crate::tagging::{PhiRecord, REDACTED};

/// Masks `record`'s PHI unless `decision` shows it. Returns the columns masked (empty when nothing
/// was), for the audit entry of the `redact` action.
pub fn redact<T: PhiRecord>(record: &mut T, decision: &Decision) -> Vec<&'static str> {
    if decision.phi_visible() {
        return Vec::new();
    }
    record.redact_phi();
    T::phi_fields().map(|f| f.column).collect()
}

/// Masks the PHI of a JSON rendering of a `table` record (and of anything nested in it) unless
/// `decision` shows it. Returns the registered columns that were masked somewhere.
pub fn redact_json(registry: &Registry, table: &str, decision: &Decision, value: &mut Value) -> BTreeSet<String> {
    if decision.phi_visible() {
        return BTreeSet::new();
    }
    let Some(columns) = registry.table_index(table) else { return BTreeSet::new() };
    mask_keys(value, |key| columns.get(key).cloned())
}

/// Replaces the value of every object key for which `phi` answers a column, at any depth.
/// Returns those columns.
pub(crate) fn mask_keys(value: &mut Value, phi: impl Fn(&str) -> Option<String>) -> BTreeSet<String> {
    let mut masked = BTreeSet::new();
    let mut stack: Vec<&mut Value> = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Value::Object(map) => {
                for (key, child) in map.iter_mut() {
                    match phi(key) {
                        Some(column) => {
                            *child = Value::String(REDACTED.to_owned());
                            masked.insert(column);
                        }
                        None => stack.push(child),
                    }
                }
            }
            Value::Array(items) => stack.extend(items.iter_mut()),
            _ => {}
        }
    }
    masked
}

/// The outcome of [`disclose`]: the decision, and the audit entry to append.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disclosure {
    /// What the matrix decided.
    pub decision: Decision,
    /// The PHI audit entry to append under the record's org: a `read` of every PHI column when
    /// they were shown, a `redact` of the masked columns when they were masked, `None` when the
    /// record was denied (another org's) or has no PHI.
    pub audit: Option<AuditDraft>,
}

/// Decides, redacts `record` in place and drafts the audit entry, in one step: what a use case
/// does before a PHI-bearing record leaves the system. Append `audit` (with the request's IP
/// address and user agent) before returning the record.
pub fn disclose<T: PhiRecord>(
    caller: &Caller,
    context: &AccessContext,
    record_id: Uuid,
    record: &mut T,
    at: DateTime<Utc>,
) -> Disclosure {
    let decision = decide(caller, context);
    let masked = redact(record, &decision);
    let audit = if decision.is_denied() || !T::HAS_PHI {
        None
    } else if decision.phi_visible() {
        let fields = T::phi_fields().map(|f| f.column);
        Some(AuditDraft::new(caller.user_id, AuditAction::Read, T::TABLE, record_id, fields, at))
    } else {
        Some(AuditDraft::new(caller.user_id, AuditAction::Redact, T::TABLE, record_id, masked, at))
    };
    Disclosure { decision, audit }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openinsure_core::ids::{OrgId, UserId};
    use openinsure_core::tenancy::Role;
    use serde_json::json;

    fn caller(role: Role) -> Caller {
        Caller::new(UserId::from_uuid(Uuid::from_u128(10)), OrgId::from_uuid(Uuid::from_u128(1)), role)
    }

    fn claim_ctx() -> AccessContext {
        AccessContext::claim(OrgId::from_uuid(Uuid::from_u128(1)), None)
    }

    #[test]
    fn json_nested_and_every_value_kind() {
        let registry = Registry::platform();
        let masked = decide(&caller(Role::Producer), &claim_ctx());
        let mut v = json!({
            "claimNumber": "WC-1",
            "claimantName": "Jane Roe",
            "claimant_dob": "1980-02-29",
            "diagnosisCodes": ["S52.5"],
            "claimantAddress": {"line1": "1 Main St"},
            "claimantSsn": 123456789,
            "claimantPhone": null,
            "history": [{"treatmentNotes": "cast", "status": "open"}, [{"procedureCodes": ["99213"]}]],
            "member": {"ssn": "not a claims column"}
        });
        let columns = redact_json(&registry, "claims", &masked, &mut v);
        assert_eq!(
            v,
            json!({
                "claimNumber": "WC-1",
                "claimantName": REDACTED,
                "claimant_dob": REDACTED,
                "diagnosisCodes": REDACTED,
                "claimantAddress": REDACTED,
                "claimantSsn": REDACTED,
                "claimantPhone": REDACTED,
                "history": [{"treatmentNotes": REDACTED, "status": "open"}, [{"procedureCodes": REDACTED}]],
                "member": {"ssn": "not a claims column"}
            })
        );
        assert_eq!(columns.len(), 8);
        assert!(columns.contains("procedure_codes"));

        let full = decide(&caller(Role::ClaimsSupervisor), &claim_ctx());
        let mut w = json!({"claimantName": "Jane Roe"});
        assert!(redact_json(&registry, "claims", &full, &mut w).is_empty());
        assert_eq!(w["claimantName"], "Jane Roe");
    }

    #[test]
    fn json_scalars_and_unknown_tables_are_left_alone() {
        let registry = Registry::platform();
        let masked = decide(&caller(Role::Producer), &claim_ctx());
        for mut v in [json!("Jane Roe"), json!(1), json!(null), json!([])] {
            let before = v.clone();
            assert!(redact_json(&registry, "claims", &masked, &mut v).is_empty());
            assert_eq!(v, before);
        }
        let mut v = json!({"claimantName": "x"});
        assert!(redact_json(&registry, "policies", &masked, &mut v).is_empty());
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        let registry = Registry::platform();
        let masked = decide(&caller(Role::Producer), &claim_ctx());
        let mut v = json!({"claimantName": "Jane Roe"});
        for _ in 0..100_000 {
            v = Value::Array(vec![v]);
        }
        assert_eq!(redact_json(&registry, "claims", &masked, &mut v).len(), 1);
        // drop it iteratively too, serde_json's drop recurses
        let mut cur = v;
        while let Value::Array(mut items) = cur {
            cur = items.pop().unwrap_or(Value::Null);
        }
        assert_eq!(cur, json!({"claimantName": REDACTED}));
    }
}
