//! Prometheus text exposition (format 0.0.4): family headers, samples with escaped labels, comments.
//! Pure string building; what to expose is decided by the caller.

use std::fmt::Write as _;

/// A metric family's type, as written on its `# TYPE` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
            Self::Histogram => "histogram",
        }
    }
}

/// The text of one scrape, built family by family.
#[derive(Debug, Default)]
pub struct Exposition {
    out: String,
}

impl Exposition {
    pub fn new() -> Self {
        Self::default()
    }

    /// `# HELP` and `# TYPE` for a family; its samples follow.
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.out, "# TYPE {name} {}", kind.as_str());
    }

    /// A comment line, e.g. to say why a family has no samples in this scrape.
    pub fn comment(&mut self, text: &str) {
        // A comment ends at the line's end: keep it on one line.
        let _ = writeln!(self.out, "# {}", text.replace(['\n', '\r'], " "));
    }

    /// One sample: `name{label="value",…} value`.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (label, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{label}=\"{}\"", escape_label(v));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {}", format_value(value));
    }

    pub fn finish(self) -> String {
        self.out
    }
}

/// Label values escape backslash, double quote and line feed.
pub fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Help text escapes backslash and line feed (quotes stay as they are).
pub fn escape_help(help: &str) -> String {
    help.replace('\\', "\\\\").replace('\n', "\\n")
}

/// Integers without a fraction, infinities as `+Inf`/`-Inf`, NaN as `NaN`.
pub fn format_value(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value == f64::INFINITY {
        "+Inf".into()
    } else if value == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        // `Display` for f64 prints the shortest exact form: 3, 0.25, 1e-7 is 0.0000001.
        format!("{value}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped() {
        assert_eq!(escape_label(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(escape_label("two\nlines"), "two\\nlines");
        assert_eq!(escape_label("plain_value"), "plain_value");
        assert_eq!(escape_help("a\\b\nc \"q\""), "a\\\\b\\nc \"q\"");
    }

    #[test]
    fn a_family_with_labelled_samples() {
        let mut e = Exposition::new();
        e.family("x_total", Kind::Counter, "Things.\nMore.");
        e.sample("x_total", &[("outcome", "ok"), ("why", "say \"hi\"")], 3.0);
        e.sample("x_total", &[], 0.5);
        assert_eq!(
            e.finish(),
            "# HELP x_total Things.\\nMore.\n# TYPE x_total counter\n\
             x_total{outcome=\"ok\",why=\"say \\\"hi\\\"\"} 3\nx_total 0.5\n"
        );
    }

    #[test]
    fn values_and_comments() {
        assert_eq!(format_value(0.0), "0");
        assert_eq!(format_value(12.0), "12");
        assert_eq!(format_value(0.05), "0.05");
        assert_eq!(format_value(f64::INFINITY), "+Inf");
        assert_eq!(format_value(f64::NEG_INFINITY), "-Inf");
        assert_eq!(format_value(f64::NAN), "NaN");
        let mut e = Exposition::new();
        e.comment("the database did not answer:\nbroken pipe");
        assert_eq!(e.finish(), "# the database did not answer: broken pipe\n");
    }
}
