//! Billing schedules: how a policy's amount due is split into installments.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::money::Money;

/// A payment plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BillingPlan {
    /// One payment at inception.
    PaidInFull,
    /// 50% down, 50% at six months.
    TwoPay,
    /// Four payments of 25%, every three months.
    Quarterly,
    /// 20% down, then eight monthly payments of 10%.
    TenPay,
    /// Twelve equal monthly payments.
    TwelvePay,
}

/// Whether an installment has been paid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InstallmentStatus {
    /// Not yet paid.
    Due,
    /// Paid.
    Paid,
}

/// One installment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Installment {
    /// 1-based position.
    pub number: u32,
    /// When it is due.
    pub due_date: NaiveDate,
    /// The premium part.
    #[serde(rename = "premiumCents")]
    pub premium: Money,
    /// Policy fees and taxes collected with it.
    #[serde(rename = "feesAndTaxesCents")]
    pub fees_and_taxes: Money,
    /// The plan's installment fee charged on it.
    #[serde(rename = "installmentFeeCents")]
    pub installment_fee: Money,
    /// What the insured pays: premium + fees and taxes + installment fee.
    #[serde(rename = "totalCents")]
    pub total: Money,
    /// Paid or due.
    pub status: InstallmentStatus,
}

/// A policy's billing schedule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BillingSchedule {
    /// The plan.
    pub plan: BillingPlan,
    /// The installments, in due order.
    pub installments: Vec<Installment>,
}
