//! Problems found in a scenario, as miette diagnostics: each names the file, line and
//! column, points at the offending text and says what was expected. All problems of a
//! file are reported together.

use std::ops::Range;

use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme, NamedSource, SourceSpan};

/// One problem in a scenario file.
#[derive(Debug, Clone, thiserror::Error, Diagnostic)]
#[error("{message}")]
pub struct Problem {
    /// What is wrong.
    pub message: String,
    /// Where, as a byte range of the file.
    #[label("here")]
    pub span: Option<SourceSpan>,
    /// What would be right.
    #[help]
    pub help: Option<String>,
}

impl Problem {
    /// A problem at `span` (byte range), with an optional hint.
    pub fn new(
        message: impl Into<String>,
        span: Option<Range<usize>>,
        help: Option<String>,
    ) -> Problem {
        Problem {
            message: message.into(),
            span: span.map(|s| SourceSpan::from(s.start..s.end.max(s.start))),
            help,
        }
    }
}

/// Every problem of one scenario file.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[error("{path}: {} problem{} in the scenario", problems.len(), if problems.len() == 1 { "" } else { "s" })]
#[diagnostic(code(edasim::scenario))]
pub struct ScenarioError {
    path: String,
    #[source_code]
    src: NamedSource<String>,
    /// The problems, in file order.
    #[related]
    pub problems: Vec<LocatedProblem>,
}

/// A problem with its own copy of the source, so that miette prints the snippet and
/// the `file:line:column` of each one.
#[derive(Debug, Clone, thiserror::Error, Diagnostic)]
#[error("{}", problem.message)]
pub struct LocatedProblem {
    /// The problem.
    pub problem: Problem,
    /// 1-based line, 0 when the problem has no place.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    #[source_code]
    src: NamedSource<String>,
    #[label("{}", label)]
    span: Option<SourceSpan>,
    label: String,
    #[help]
    help: Option<String>,
}

impl ScenarioError {
    /// Collects `problems` found in `text`, read from `path`.
    pub fn new(path: &str, text: &str, problems: Vec<Problem>) -> ScenarioError {
        let src = NamedSource::new(path, text.to_string()).with_language("toml");
        let problems = problems
            .into_iter()
            .map(|p| {
                let (line, column) = p.span.map_or((0, 0), |s| line_col(text, s.offset()));
                LocatedProblem {
                    line,
                    column,
                    src: src.clone(),
                    span: p.span,
                    label: "here".to_string(),
                    help: p.help.clone(),
                    problem: p,
                }
            })
            .collect();
        ScenarioError {
            path: path.to_string(),
            src,
            problems,
        }
    }

    /// One line per problem, `file:line:column: message (help)` (`file: message` for a
    /// problem without a place), for logs and tests.
    pub fn to_plain(&self) -> String {
        let mut out = String::new();
        for p in &self.problems {
            // A problem without a place (one of a command-line override) has no line.
            if p.line == 0 {
                out.push_str(&format!("{}: {}", self.path, p.problem.message));
            } else {
                out.push_str(&format!(
                    "{}:{}:{}: {}",
                    self.path, p.line, p.column, p.problem.message
                ));
            }
            if let Some(h) = &p.problem.help {
                out.push_str(&format!(" ({h})"));
            }
            out.push('\n');
        }
        out
    }

    /// The full report with source snippets, without colour, `width` columns wide.
    pub fn render(&self, width: usize, color: bool) -> String {
        let theme = if color {
            GraphicalTheme::unicode()
        } else {
            GraphicalTheme::unicode_nocolor()
        };
        let handler = GraphicalReportHandler::new_themed(theme).with_width(width);
        let mut out = String::new();
        for p in &self.problems {
            let _ = handler.render_report(&mut out, p);
        }
        out.push_str(&format!("{self}\n"));
        out
    }
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// A number as a message shows it: as written for everyday values, in scientific
/// notation (`1e300`) when plain digits would run to dozens of characters.
pub fn num(v: f64) -> String {
    let a = v.abs();
    if v.is_finite() && a != 0.0 && !(1e-6..1e15).contains(&a) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::num;

    #[test]
    fn huge_and_tiny_numbers_are_short() {
        assert_eq!(num(1e300), "1e300");
        assert_eq!(num(-1.5e308), "-1.5e308");
        assert_eq!(num(2.5e-9), "2.5e-9");
        assert_eq!(num(0.25), "0.25");
        assert_eq!(num(5000.0), "5000");
        assert_eq!(num(f64::NAN), "NaN");
    }
}
