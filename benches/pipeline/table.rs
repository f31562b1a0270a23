//! The one table the bench prints: a row per measure, in Markdown so it can go into BENCHMARKS.md.

/// One measured figure, with its target when it has one.
pub struct Row {
    pub scenario: &'static str,
    pub database: &'static str,
    pub measure: String,
    pub value: String,
    pub target: String,
    /// `None` when the figure has no target of its own.
    pub met: Option<bool>,
}

#[derive(Default)]
pub struct Table {
    rows: Vec<Row>,
}

impl Table {
    pub fn add(
        &mut self,
        scenario: &'static str,
        database: &'static str,
        measure: impl Into<String>,
        value: impl Into<String>,
        target: Option<(&str, bool)>,
    ) {
        let row = Row {
            scenario,
            database,
            measure: measure.into(),
            value: value.into(),
            target: target.map_or_else(String::new, |(t, _)| t.to_owned()),
            met: target.map(|(_, met)| met),
        };
        eprintln!(
            "  {} / {}: {} = {}",
            row.scenario, row.database, row.measure, row.value
        );
        self.rows.push(row);
    }

    pub fn print(&self) {
        let header = ["scenario", "database", "measure", "result", "target", "met"];
        let cells: Vec<[String; 6]> = self
            .rows
            .iter()
            .map(|r| {
                let met = match r.met {
                    Some(true) => "yes",
                    Some(false) => "**no**",
                    None => "",
                };
                [
                    r.scenario.to_owned(),
                    r.database.to_owned(),
                    r.measure.clone(),
                    r.value.clone(),
                    r.target.clone(),
                    met.to_owned(),
                ]
            })
            .collect();
        let mut widths = header.map(|h| h.chars().count());
        for row in &cells {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |row: &[String]| {
            let padded: Vec<String> = row
                .iter()
                .zip(widths)
                .map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count())))
                .collect();
            println!("| {} |", padded.join(" | "));
        };
        line(&header.map(str::to_owned));
        line(&widths.map(|w| "-".repeat(w)));
        for row in &cells {
            line(row);
        }
    }
}
