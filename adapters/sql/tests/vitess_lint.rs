//! What Vitess / PlanetScale require of the MySQL migrations, checked by parsing them (MariaDB
//! accepts every violation silently): every primary key starts with `org_id` and every unique key
//! includes it; no foreign keys, AUTO_INCREMENT, views, routines or triggers; ids `BINARY(16)`;
//! times `DATETIME(6)` (never `TIMESTAMP`); money `BIGINT` cents; documents `LONGTEXT` /
//! `LONGBLOB`, never `JSON`. And the committed `vschema.json` shards every table by `org_id`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code")]

use std::collections::BTreeSet;
use std::path::Path;

use sqlparser::ast::{ColumnOption, DataType, ExactNumberInfo, Statement, TableConstraint};
use sqlparser::dialect::MySqlDialect;
use sqlparser::parser::Parser;

fn migrations() -> Vec<(String, Vec<Statement>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/mysql");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(!files.is_empty());
    files
        .into_iter()
        .map(|f| {
            let sql = std::fs::read_to_string(&f).unwrap();
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            let statements = Parser::parse_sql(&MySqlDialect {}, &sql).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, statements)
        })
        .collect()
}

fn column_name(c: &sqlparser::ast::IndexColumn) -> String {
    c.column.expr.to_string()
}

/// The problems of one column of `table`.
fn column_problems(table: &str, col: &sqlparser::ast::ColumnDef) -> Vec<String> {
    let mut out = Vec::new();
    let name = col.name.value.as_str();
    let ty = &col.data_type;
    for o in &col.options {
        match &o.option {
            ColumnOption::Unique { is_primary, .. } => out.push(format!(
                "{table}.{name}: an inline {} key (declare keys led by org_id)",
                if *is_primary { "primary" } else { "unique" }
            )),
            ColumnOption::ForeignKey { .. } => out.push(format!("{table}.{name}: a foreign key")),
            ColumnOption::DialectSpecific(tokens)
                if tokens.iter().any(|t| t.to_string().eq_ignore_ascii_case("AUTO_INCREMENT")) =>
            {
                out.push(format!("{table}.{name}: AUTO_INCREMENT"));
            }
            _ => {}
        }
    }
    let is = |expected: &str| ty.to_string().eq_ignore_ascii_case(expected);
    if matches!(ty, DataType::JSON) {
        out.push(format!("{table}.{name}: JSON (store documents as LONGTEXT)"));
    }
    if matches!(ty, DataType::Timestamp(..)) {
        out.push(format!("{table}.{name}: TIMESTAMP (use DATETIME(6), UTC)"));
    }
    if (name == "id" || name.ends_with("_id"))
        && !is("BINARY(16)")
        && !name.starts_with("object")
        && !name.starts_with("subject")
    {
        out.push(format!("{table}.{name}: an id is BINARY(16), not {ty}"));
    }
    if (name == "at" || name.ends_with("_at")) && !matches!(ty, DataType::Datetime(Some(6))) {
        out.push(format!("{table}.{name}: a time is DATETIME(6), not {ty}"));
    }
    if name.ends_with("_cents") && !matches!(ty, DataType::BigInt(_)) {
        out.push(format!("{table}.{name}: money is BIGINT cents, not {ty}"));
    }
    if matches!(ty, DataType::Decimal(ExactNumberInfo::None)) {
        out.push(format!("{table}.{name}: a DECIMAL needs its precision"));
    }
    if name == "body" && !is("LONGTEXT") {
        out.push(format!("{table}.{name}: a document is LONGTEXT, not {ty}"));
    }
    out
}

/// Whether an index not led by `org_id` is one of those that serve every org by design: the
/// outbox dispatcher's, the webhook deliverer's `webhook_deliveries_due (status,
/// next_attempt_at)`, which finds the due deliveries of every org for its lease, and the mailer's
/// `notifications_email_due (email_status, email_next_attempt_at)`, which finds the due emails
/// of every org for its lease (each one per shard under Vitess, read by a scatter query). Any
/// other index of `webhook_deliveries` or `notifications` is led by `org_id`.
fn serves_every_org(table: &str, index: &sqlparser::ast::CreateIndex) -> bool {
    let name = index.name.as_ref().map(ToString::to_string);
    let columns: Vec<String> = index.columns.iter().map(column_name).collect();
    let is =
        |t: &str, n: &str, c: [&str; 2]| table.eq_ignore_ascii_case(t) && name.as_deref() == Some(n) && columns == c;
    table.eq_ignore_ascii_case("outbox")
        || is("webhook_deliveries", "webhook_deliveries_due", ["status", "next_attempt_at"])
        || is("notifications", "notifications_email_due", ["email_status", "email_next_attempt_at"])
}

/// The problems of one statement, each naming the table and column.
fn problems(statement: &Statement) -> Vec<String> {
    let mut out = Vec::new();
    match statement {
        Statement::CreateTable(t) => {
            let table = t.name.to_string();
            let mut has_pk = false;
            for c in &t.constraints {
                match c {
                    TableConstraint::PrimaryKey { columns, .. } => {
                        has_pk = true;
                        if columns.first().map(column_name).as_deref() != Some("org_id") {
                            out.push(format!("{table}: the primary key does not start with org_id"));
                        }
                    }
                    TableConstraint::Unique { columns, .. } if !columns.iter().any(|c| column_name(c) == "org_id") => {
                        out.push(format!("{table}: a unique key without org_id"));
                    }
                    TableConstraint::ForeignKey { .. } => out.push(format!("{table}: a foreign key")),
                    _ => {}
                }
            }
            if !has_pk {
                out.push(format!("{table}: no primary key"));
            }
            for col in &t.columns {
                out.extend(column_problems(&table, col));
            }
        }
        Statement::AlterTable { name, operations, .. } => {
            let table = name.to_string();
            for op in operations {
                match op {
                    sqlparser::ast::AlterTableOperation::AddColumn { column_def, .. } => {
                        out.extend(column_problems(&table, column_def));
                    }
                    other => out.push(format!("{table}: an unexpected change: {other}")),
                }
            }
        }
        Statement::CreateIndex(i) => {
            let table = i.table_name.to_string();
            if i.unique && !i.columns.iter().any(|c| column_name(c) == "org_id") {
                out.push(format!(
                    "{table}: unique index {:?} without org_id",
                    i.name.as_ref().map(ToString::to_string)
                ));
            }
            if i.columns.first().map(column_name).as_deref() != Some("org_id") && !serves_every_org(&table, i) {
                out.push(format!(
                    "{table}: an index not led by org_id (only the outbox's, the webhook deliverer's and the mailer's may be)"
                ));
            }
        }
        Statement::CreateView { name, .. } => out.push(format!("{name}: a view")),
        Statement::CreateFunction(_) => out.push("a stored function".into()),
        Statement::CreateProcedure { name, .. } => out.push(format!("{name}: a stored procedure")),
        Statement::CreateTrigger(_) => out.push("a trigger".into()),
        other => out.push(format!("an unexpected statement: {other}")),
    }
    out
}

#[test]
fn the_mysql_migrations_are_what_vitess_accepts() {
    let mut all = Vec::new();
    for (file, statements) in migrations() {
        for s in &statements {
            all.extend(problems(s).into_iter().map(|p| format!("{file}: {p}")));
        }
    }
    assert!(all.is_empty(), "{}", all.join("\n"));
}

/// The lint itself: each kind of violation is caught.
#[test]
fn the_lint_catches_each_violation() {
    let bad = [
        (
            "CREATE TABLE t (id BINARY(16) NOT NULL, org_id BINARY(16) NOT NULL, PRIMARY KEY (id, org_id))",
            "does not start with org_id",
        ),
        (
            "CREATE TABLE t (org_id BINARY(16) NOT NULL, n BIGINT NOT NULL AUTO_INCREMENT, PRIMARY KEY (org_id, n))",
            "AUTO_INCREMENT",
        ),
        ("CREATE TABLE t (org_id BINARY(16) NOT NULL, doc JSON, PRIMARY KEY (org_id))", "JSON"),
        ("CREATE TABLE t (org_id BINARY(16) NOT NULL, created_at TIMESTAMP, PRIMARY KEY (org_id))", "TIMESTAMP"),
        ("CREATE TABLE t (org_id BINARY(16) NOT NULL, policy_id CHAR(36), PRIMARY KEY (org_id))", "BINARY(16)"),
        (
            "CREATE TABLE t (org_id BINARY(16) NOT NULL, p_id BINARY(16), PRIMARY KEY (org_id), FOREIGN KEY (p_id) REFERENCES p (id))",
            "foreign key",
        ),
        ("CREATE TABLE t (org_id BINARY(16) NOT NULL, premium_cents DOUBLE, PRIMARY KEY (org_id))", "BIGINT cents"),
        ("CREATE UNIQUE INDEX u ON t (number)", "without org_id"),
        ("CREATE VIEW v AS SELECT 1", "a view"),
        ("ALTER TABLE t ADD COLUMN retry_at TIMESTAMP", "TIMESTAMP"),
        ("ALTER TABLE t DROP COLUMN n", "an unexpected change"),
        ("CREATE INDEX d ON webhook_deliveries (endpoint_id)", "not led by org_id"),
        ("CREATE INDEX webhook_deliveries_due ON webhook_deliveries (endpoint_id, status)", "not led by org_id"),
        ("CREATE INDEX q ON quotes (submission_id)", "not led by org_id"),
        ("CREATE INDEX n ON notifications (user_id, created_at)", "not led by org_id"),
        ("CREATE INDEX notifications_email_due ON notifications (email_status, user_id)", "not led by org_id"),
        (
            "CREATE INDEX notifications_email_due ON notification_settings (email_status, email_next_attempt_at)",
            "not led by org_id",
        ),
        ("CREATE INDEX webhook_deliveries_due ON notifications (status, next_attempt_at)", "not led by org_id"),
    ];
    for (sql, expected) in bad {
        let statements = Parser::parse_sql(&MySqlDialect {}, sql).unwrap();
        let found = problems(&statements[0]).join("; ");
        assert!(found.contains(expected), "{sql}: expected `{expected}`, found `{found}`");
    }
}

#[test]
fn the_vschema_shards_every_table_by_org_id() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("vschema.json");
    let vschema: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(vschema["sharded"], true);
    assert_eq!(vschema["vindexes"]["org"]["type"], "binary_md5");
    let mut tables = BTreeSet::new();
    for (_, statements) in migrations() {
        for s in statements {
            if let Statement::CreateTable(t) = s {
                tables.insert(t.name.to_string());
            }
        }
    }
    let listed: BTreeSet<String> = vschema["tables"].as_object().unwrap().keys().cloned().collect();
    assert_eq!(listed, tables, "vschema.json lists exactly the tables");
    let known: BTreeSet<String> = openinsure_sql::TABLES.iter().map(|t| (*t).to_owned()).collect();
    assert_eq!(known, tables, "openinsure_sql::TABLES lists exactly the tables");
    for (table, spec) in vschema["tables"].as_object().unwrap() {
        assert_eq!(spec["column_vindexes"][0]["column"], "org_id", "{table}");
        assert_eq!(spec["column_vindexes"][0]["name"], "org", "{table}");
    }
}
