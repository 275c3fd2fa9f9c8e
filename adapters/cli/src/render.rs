//! Plain-text rendering of worksheets.

use std::fmt::Write as _;

use openinsure_core::quote::{Operation, Rating};

fn op_text(op: &Operation) -> String {
    match op {
        Operation::PerExposure { units, rate } => {
            format!("{} x {}", units.normalize(), rate.value().normalize())
        }
        Operation::Multiply { factor } => format!("x {}", factor.value().normalize()),
        Operation::Floor { minimum } => format!("min {minimum}"),
        Operation::Flat { amount } => format!("flat {amount}"),
    }
}

/// The worksheet as an aligned table, then the totals.
pub fn worksheet(rating: &Rating) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "rate table {} v{}", rating.rate_table.id, rating.rate_table.version);
    let _ =
        writeln!(out, "{:>2}  {:<16} {:<24} {:<22} {:>16} {:>16}", "#", "step", "matched", "operation", "in", "out");
    for (i, s) in rating.worksheet.steps.iter().enumerate() {
        let _ = writeln!(
            out,
            "{:>2}  {:<16} {:<24} {:<22} {:>16} {:>16}",
            i + 1,
            s.step.as_str(),
            s.matched.to_string(),
            op_text(&s.operation),
            s.input.to_string(),
            s.output.to_string()
        );
    }
    for a in &rating.schedule {
        let _ = writeln!(out, "    schedule {:<12} {:>8}", a.reason_code, a.adjustment.normalize());
    }
    let _ =
        writeln!(out, "{:>2}  {:<16} {:<24} {:<22} {:>16} {:>16}", "", "charge", "code", "operation", "base", "amount");
    for c in &rating.worksheet.charges {
        let kind = match c.kind {
            openinsure_core::quote::ChargeKind::Commission => "commission",
            openinsure_core::quote::ChargeKind::Fee => "fee",
            openinsure_core::quote::ChargeKind::Tax => "tax",
        };
        let _ = writeln!(
            out,
            "{:>2}  {:<16} {:<24} {:<22} {:>16} {:>16}",
            "",
            kind,
            c.code,
            op_text(&c.operation),
            c.base.to_string(),
            c.amount.to_string()
        );
    }
    let t = &rating.totals;
    for (label, amount) in [
        ("gross premium", t.gross_premium),
        ("commission", t.commission),
        ("net premium", t.net_premium),
        ("fees", t.fees),
        ("taxes", t.taxes),
        ("total due", t.total_due),
    ] {
        let _ = writeln!(out, "{label:<16} {:>16}", amount.to_string());
    }
    out
}

fn cents(amount: u128) -> String {
    i64::try_from(amount)
        .map_or_else(|_| format!("{amount}c"), |c| openinsure_core::money::Money::from_cents(c).to_string())
}

/// Journal entries as an aligned table.
pub fn journal(entries: &[openinsure_ledger::reports::JournalEntry]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{:<20} {:<24} {:<24} {:>16}  subject", "code", "debit", "credit", "amount");
    for e in entries {
        let _ = writeln!(
            out,
            "{:<20} {:<24} {:<24} {:>16}  {} leg {}",
            e.code,
            e.debit,
            e.credit,
            cents(e.amount_cents),
            e.subject,
            e.leg
        );
    }
    out
}

/// A trial balance as an aligned table.
pub fn trial_balance(tb: &openinsure_ledger::reports::TrialBalance) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{:>3} {:<24} {:>16} {:>16}", "", "account", "debits", "credits");
    for r in &tb.rows {
        let _ =
            writeln!(out, "{:>3} {:<24} {:>16} {:>16}", r.code, r.name, cents(r.debits_cents), cents(r.credits_cents));
    }
    let _ = writeln!(
        out,
        "{:>3} {:<24} {:>16} {:>16}  {}",
        "",
        "total",
        cents(tb.total_debits_cents),
        cents(tb.total_credits_cents),
        if tb.is_balanced() { "balanced" } else { "NOT BALANCED" }
    );
    out
}
