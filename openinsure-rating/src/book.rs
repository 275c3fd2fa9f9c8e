//! A rate book: every version of every table, and which one is in force.

use chrono::NaiveDate;
use openinsure_core::ids::ProgramId;
use openinsure_core::submission::LineOfBusiness;

use crate::error::RatingError;
use crate::table::RateTable;

/// Rate tables of several lines, programs and versions.
#[derive(Clone, Debug, Default)]
pub struct RateBook {
    tables: Vec<RateTable>,
}

impl RateBook {
    /// An empty book.
    pub fn new() -> Self {
        RateBook::default()
    }

    /// Adds a table version. A second table with the same id and version is refused.
    pub fn insert(&mut self, table: RateTable) -> Result<(), RatingError> {
        table.validate().map_err(RatingError::Table)?;
        if self.tables.iter().any(|t| t.id == table.id && t.version == table.version) {
            let mut e = openinsure_core::FieldErrors::default();
            e.push("version", format!("table `{}` version {} is already in the book", table.id, table.version));
            return Err(RatingError::Table(e));
        }
        self.tables.push(table);
        Ok(())
    }

    /// The version in force on `date` for the line and program: the one with the latest effective
    /// date not after `date` (the highest version among equals).
    pub fn in_force(
        &self,
        line: LineOfBusiness,
        program: ProgramId,
        date: NaiveDate,
    ) -> Result<&RateTable, RatingError> {
        Self::pick_in_force(&self.tables, line, program, date)
    }

    /// [`RateBook::in_force`] over any list of tables (an edge copy of a program's versions).
    pub fn pick_in_force(
        tables: &[RateTable],
        line: LineOfBusiness,
        program: ProgramId,
        date: NaiveDate,
    ) -> Result<&RateTable, RatingError> {
        tables
            .iter()
            .filter(|t| t.line_of_business == line && t.program_id == program && t.effective_date <= date)
            .max_by_key(|t| (t.effective_date, t.version))
            .ok_or_else(|| RatingError::NoTableInForce {
                line_of_business: line.to_string(),
                program_id: program.to_string(),
                date: date.to_string(),
            })
    }

    /// Every version of the line and program's tables, oldest first (what an edge copy holds).
    pub fn versions(&self, line: LineOfBusiness, program: ProgramId) -> Vec<RateTable> {
        let mut v: Vec<RateTable> =
            self.tables.iter().filter(|t| t.line_of_business == line && t.program_id == program).cloned().collect();
        v.sort_by(|a, b| (a.effective_date, a.version, &a.id).cmp(&(b.effective_date, b.version, &b.id)));
        v
    }

    /// The table with this id and version, if the book has it.
    pub fn get(&self, id: &str, version: u32) -> Option<&RateTable> {
        self.tables.iter().find(|t| t.id.as_ref() == id && t.version == version)
    }

    /// Every table.
    pub fn tables(&self) -> &[RateTable] {
        &self.tables
    }
}
