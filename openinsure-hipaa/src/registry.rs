//! The PHI field registry: which `table.column`s hold PHI, and under which JSON names they travel.
//!
//! Build it from the record types ([`Registry::of`], [`Registry::register`]) so it cannot fall out
//! of step with the structs; [`Registry::platform`] is the registry of this crate's
//! [`platform_records`](crate::platform_records) and the core claim, and a test keeps it equal to the static list [`PHI_FIELDS`].

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::tagging::PhiRecord;
use openinsure_core::claims::Claim;

use crate::platform_records::MemberPhi;

/// The platform's PHI fields, `table.column`. The first six are the seed's `PHI_FIELDS`; the rest
/// are what a health or workers' compensation claim carries besides.
pub const PHI_FIELDS: [&str; 12] = [
    "claims.claimant_name",
    "claims.claimant_dob",
    "claims.diagnosis_codes",
    "claims.treatment_notes",
    "members.ssn",
    "members.health_conditions",
    "claims.claimant_ssn",
    "claims.procedure_codes",
    "claims.medical_record_number",
    "claims.claimant_phone",
    "claims.claimant_email",
    "claims.claimant_address",
];

/// One registered PHI field.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct PhiField {
    /// The table (`claims`).
    pub table: String,
    /// The column (`claimant_dob`).
    pub column: String,
    /// Every JSON name it is known under (`claimantDob`, ...), sorted.
    pub json_names: Vec<String>,
}

impl PhiField {
    /// `table.column`.
    pub fn qualified(&self) -> String {
        format!("{}.{}", self.table, self.column)
    }
}

/// The set of PHI fields, by table and column, with their JSON names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Registry {
    /// table -> column -> JSON names.
    tables: BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
    /// table -> key (a column or a JSON name) -> column: the index `column_for_key` answers from,
    /// kept in step by `insert` (JSON redaction looks up every key of a document).
    index: std::collections::HashMap<String, std::collections::HashMap<String, String>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Registry::default()
    }

    /// The registry of one record type.
    pub fn of<T: PhiRecord>() -> Self {
        Registry::new().with::<T>()
    }

    /// This registry and `T`'s PHI fields.
    pub fn with<T: PhiRecord>(mut self) -> Self {
        self.register::<T>();
        self
    }

    /// Adds `T`'s PHI fields.
    pub fn register<T: PhiRecord>(&mut self) -> &mut Self {
        for f in T::phi_fields() {
            self.insert(T::TABLE, f.column, Some(f.json_name));
        }
        self
    }

    /// The registry of this crate's record types ([`Claim`], [`MemberPhi`]); equal, as
    /// `table.column`s, to [`PHI_FIELDS`].
    pub fn platform() -> Self {
        Registry::of::<Claim>().with::<MemberPhi>()
    }

    /// The static list [`PHI_FIELDS`], each known by its column and its camelCase JSON name.
    pub fn from_static() -> Self {
        let mut r = Registry::new();
        for qualified in PHI_FIELDS {
            if let Some((table, column)) = qualified.split_once('.') {
                r.insert(table, column, Some(&camel_case(column)));
            }
        }
        r
    }

    /// Registers `table.column` (and a JSON name for it, if given). Blank names are ignored.
    pub fn insert(&mut self, table: &str, column: &str, json_name: Option<&str>) -> &mut Self {
        if table.trim().is_empty() || column.trim().is_empty() {
            return self;
        }
        let names = self.tables.entry(table.to_owned()).or_default().entry(column.to_owned()).or_default();
        let index = self.index.entry(table.to_owned()).or_default();
        index.insert(column.to_owned(), column.to_owned());
        if let Some(json) = json_name.filter(|j| !j.is_empty() && *j != column) {
            names.insert(json.to_owned());
            index.entry(json.to_owned()).or_insert_with(|| column.to_owned());
        }
        self
    }

    /// Every field of `other` added to this one.
    pub fn merge(&mut self, other: &Registry) -> &mut Self {
        for (table, columns) in &other.tables {
            for (column, names) in columns {
                self.insert(table, column, None);
                for n in names {
                    self.insert(table, column, Some(n));
                }
            }
        }
        self
    }

    /// True when `table.column` holds PHI.
    pub fn is_phi(&self, table: &str, column: &str) -> bool {
        self.tables.get(table).is_some_and(|c| c.contains_key(column))
    }

    /// True when `qualified` (`claims.claimant_dob`) holds PHI.
    pub fn contains(&self, qualified: &str) -> bool {
        qualified.split_once('.').is_some_and(|(t, c)| self.is_phi(t, c))
    }

    /// The column a JSON key of a `table` record names, when that key is a registered PHI column
    /// or JSON name.
    pub fn column_for_key(&self, table: &str, key: &str) -> Option<&str> {
        self.index.get(table)?.get(key).map(String::as_str)
    }

    /// The key (column or JSON name) to column index of one table.
    pub fn table_index(&self, table: &str) -> Option<&std::collections::HashMap<String, String>> {
        self.index.get(table)
    }

    /// Every key (column and JSON name) under which `table`'s PHI may appear.
    pub fn keys(&self, table: &str) -> BTreeSet<&str> {
        self.tables
            .get(table)
            .map(|cols| {
                cols.iter()
                    .flat_map(|(c, names)| std::iter::once(c.as_str()).chain(names.iter().map(String::as_str)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The tables with PHI.
    pub fn tables(&self) -> impl Iterator<Item = &str> {
        self.tables.keys().map(String::as_str)
    }

    /// Every registered field, by table then column.
    pub fn fields(&self) -> Vec<PhiField> {
        self.tables
            .iter()
            .flat_map(|(table, cols)| {
                cols.iter().map(move |(column, names)| PhiField {
                    table: table.clone(),
                    column: column.clone(),
                    json_names: names.iter().cloned().collect(),
                })
            })
            .collect()
    }

    /// Every registered field as `table.column`.
    pub fn qualified_names(&self) -> BTreeSet<String> {
        self.tables.iter().flat_map(|(t, cols)| cols.keys().map(move |c| format!("{t}.{c}"))).collect()
    }

    /// The number of registered fields.
    pub fn len(&self) -> usize {
        self.tables.values().map(BTreeMap::len).sum()
    }

    /// True when nothing is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `claimant_dob` -> `claimantDob`, as serde's `camelCase` does.
pub(crate) fn camel_case(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for ch in snake.chars() {
        if ch == '_' {
            upper = !out.is_empty();
        } else if upper {
            out.push(ch.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(ch);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_list_and_types_agree() {
        let from_types = Registry::platform().qualified_names();
        let from_static = Registry::from_static().qualified_names();
        assert_eq!(from_types, from_static);
        assert_eq!(from_static.len(), PHI_FIELDS.len(), "no duplicates in PHI_FIELDS");
        assert_eq!(Registry::platform(), Registry::from_static(), "json names agree too");
    }

    #[test]
    fn lookups() {
        let r = Registry::platform();
        assert!(r.contains("claims.claimant_dob"));
        assert!(r.is_phi("members", "ssn"));
        assert!(!r.is_phi("claims", "ssn"), "columns are per table");
        assert!(!r.contains("claims"));
        assert_eq!(r.column_for_key("claims", "claimantDob"), Some("claimant_dob"));
        assert_eq!(r.column_for_key("claims", "claimant_dob"), Some("claimant_dob"));
        assert_eq!(r.column_for_key("claims", "claimNumber"), None);
        assert_eq!(r.column_for_key("nope", "claimantDob"), None);
        assert!(r.keys("members").contains("healthConditions"));
        assert_eq!(r.tables().collect::<Vec<_>>(), ["claims", "members"]);
        assert_eq!(r.len(), 12);
        assert!(Registry::new().is_empty());
        assert_eq!(r.fields().iter().map(PhiField::qualified).collect::<BTreeSet<_>>(), r.qualified_names());
    }

    #[test]
    fn insert_and_merge() {
        let mut a = Registry::new();
        a.insert("claims", "claimant_name", Some("claimantName")).insert(" ", "x", None).insert("t", "", None);
        assert_eq!(a.len(), 1);
        let mut b = Registry::new();
        b.insert("claims", "claimant_name", Some("name")).insert("members", "ssn", None);
        a.merge(&b);
        assert_eq!(a.len(), 2);
        assert_eq!(a.column_for_key("claims", "name"), Some("claimant_name"));
        assert_eq!(a.column_for_key("claims", "claimantName"), Some("claimant_name"));
    }

    #[test]
    fn camel() {
        assert_eq!(camel_case("claimant_dob"), "claimantDob");
        assert_eq!(camel_case("ssn"), "ssn");
        assert_eq!(camel_case("_x_y"), "xY");
    }
}
