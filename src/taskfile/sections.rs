//! Cutting task-file text into its parts without parsing it whole: the
//! head (everything before the first task's table: `[defaults]`,
//! `[cluster]`, comments) and each task's tables, as byte ranges of the
//! text, found by TOML's own lexer.
//!
//! Why: a parsed TOML document costs about 2 kB per task (keys, values and
//! their decor, an index map per table), so a file of 1,000 tasks parsed
//! whole is a 2-3 MB peak in the daemon for what the planner keeps in a
//! tenth of that. Parsing the head once and then one task at a time
//! (docs/architecture.md, the daemon's memory) holds one task's document
//! at a time.
//!
//! Parsing the parts is the same as parsing the whole only when no part
//! can change how another parses, so [`cut`] says `None`, and the caller
//! parses the file whole, for any other layout: a key-value before the
//! first header that could define `tasks`, a `[tasks]` table, an array of
//! tables, a task's tables split by another task's, a `[defaults]` or
//! `[cluster]` after the first task, a task name with escapes. A part can
//! still fail to parse (the file is not valid TOML); the caller then parses
//! the file whole for the error, as the whole file names it.

use std::collections::HashSet;
use std::ops::Range;

use toml_parser::Source;
use toml_parser::lexer::{Token, TokenKind};

/// A task file's parts, in file order; together they are the whole text.
#[derive(Debug, PartialEq, Eq)]
pub struct Sections {
    /// From the start to the first task's header (or the end).
    pub head: Range<usize>,
    /// Each task's tables, from the line of its first header to the line
    /// of the next task's.
    pub tasks: Vec<Range<usize>>,
}

/// The parts of `text`, or `None` when it must be parsed whole (see the
/// module's comment).
pub fn cut(text: &str) -> Option<Sections> {
    let source = Source::new(text);
    let mut tokens = source.lex();
    let mut sections = Sections {
        head: 0..text.len(),
        tasks: Vec::new(),
    };
    let mut seen: HashSet<&str> = HashSet::new();
    let mut current: Option<&str> = None;
    // Between an `=` and the end of its value (which may span lines inside
    // brackets or braces), a `[` opens an array, never a table.
    let mut in_value = false;
    let mut depth = 0usize;
    let mut line_start = true;
    let mut before_header = true;
    // Where the line being read begins: a part is whole lines, so that
    // a column in it is the column in the file.
    let mut line_begin = 0;
    while let Some(token) = tokens.next() {
        match token.kind() {
            TokenKind::Eof => break,
            TokenKind::Whitespace | TokenKind::Comment => continue,
            TokenKind::Newline => {
                if depth == 0 {
                    in_value = false;
                    line_start = true;
                }
                line_begin = token.span().end();
                continue;
            }
            TokenKind::LeftSquareBracket if line_start && !in_value => {
                let start = line_begin;
                let keys = header(text, &mut tokens)?;
                before_header = false;
                match keys {
                    Header::Task(name) => {
                        if current != Some(name) {
                            if !seen.insert(name) {
                                return None;
                            }
                            match sections.tasks.last_mut() {
                                Some(last) => last.end = start,
                                None => sections.head.end = start,
                            }
                            sections.tasks.push(start..text.len());
                            current = Some(name);
                        }
                    }
                    Header::Other if current.is_some() => return None,
                    Header::Other => {}
                }
            }
            TokenKind::Equals if !in_value => {
                // A key-value before any header is the root's: it could be
                // `tasks.x.y = ...`.
                if before_header {
                    return None;
                }
                in_value = true;
            }
            TokenKind::LeftSquareBracket | TokenKind::LeftCurlyBracket if in_value => depth += 1,
            TokenKind::RightSquareBracket | TokenKind::RightCurlyBracket if in_value => {
                depth = depth.saturating_sub(1);
            }
            _ => {}
        }
        line_start = false;
    }
    Some(sections)
}

enum Header<'t> {
    /// `[tasks.NAME]` or `[tasks.NAME.more]`.
    Task(&'t str),
    /// A table outside `tasks`.
    Other,
}

/// The header whose `[` was just read, up to its `]`; `None` for one that
/// needs the whole file (an array of tables, `[tasks]` itself, a quoted
/// key with escapes) or is not a header at all.
fn header<'t>(text: &'t str, tokens: &mut impl Iterator<Item = Token>) -> Option<Header<'t>> {
    let mut keys: Vec<&str> = Vec::new();
    let mut want_key = true;
    for token in tokens.by_ref() {
        let raw = &text[token.span().start()..token.span().end()];
        match token.kind() {
            TokenKind::Whitespace => {}
            TokenKind::RightSquareBracket if !want_key => break,
            TokenKind::Dot if !want_key => want_key = true,
            TokenKind::Atom if want_key => {
                keys.push(raw);
                want_key = false;
            }
            TokenKind::BasicString | TokenKind::LiteralString if want_key => {
                let inner = raw.get(1..raw.len().checked_sub(1)?)?;
                let closed = raw.len() >= 2 && raw.ends_with(&raw[..1]);
                if !closed || inner.contains('\\') {
                    return None;
                }
                keys.push(inner);
                want_key = false;
            }
            _ => return None,
        }
    }
    match keys.as_slice() {
        [] => None,
        ["tasks"] => None,
        ["tasks", name, ..] => Some(Header::Task(name)),
        _ => Some(Header::Other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(text: &str) -> Option<Vec<&str>> {
        let s = cut(text)?;
        let mut out = vec![&text[s.head.clone()]];
        out.extend(s.tasks.iter().map(|r| &text[r.clone()]));
        Some(out)
    }

    #[test]
    fn each_task_is_cut_with_all_its_tables() {
        let text = "# kron\n[defaults]\ntimezone = \"UTC\"\n[cluster]\nnode = \"a\"\n\n\
                    [tasks.a]\ncommand = \"x\"\n[tasks.a.env]\nX = \"1\"\n\
                    \x20\x20[ tasks . 'b c' ]\ncommand = \"y\"\n";
        assert_eq!(
            parts(text).unwrap(),
            [
                "# kron\n[defaults]\ntimezone = \"UTC\"\n[cluster]\nnode = \"a\"\n\n",
                "[tasks.a]\ncommand = \"x\"\n[tasks.a.env]\nX = \"1\"\n",
                "  [ tasks . 'b c' ]\ncommand = \"y\"\n",
            ]
        );
    }

    #[test]
    fn brackets_inside_values_and_strings_are_not_headers() {
        let text = "[tasks.a]\ncommand = [\n\"x\",\n[\"nested\"],\n]\n\
                    description = \"\"\"\n[tasks.b]\n\"\"\"\nenv = {\nA = \"[tasks.c]\" }\n\
                    [tasks.d]\ncommand = \"z\"\n";
        let parts = parts(text).unwrap();
        assert_eq!(parts.len(), 3, "{parts:#?}");
        assert_eq!(parts[0], "");
        assert!(parts[2].starts_with("[tasks.d]"));
    }

    #[test]
    fn layouts_where_parts_could_change_each_other_are_parsed_whole() {
        for text in [
            // A root key-value could define tasks.
            "tasks.a.command = \"x\"\n",
            // One task's tables split by another's.
            "[tasks.a]\n[tasks.b]\n[tasks.a.env]\n",
            // The same name quoted and bare, split.
            "[tasks.a]\n[tasks.b]\n[tasks.\"a\"]\n",
            "[tasks]\na.command = \"x\"\n",
            "[[tasks.a]]\n",
            "[tasks.a]\n[defaults]\n",
            "[tasks.\"a\\u0062\"]\n",
        ] {
            assert_eq!(cut(text), None, "{text}");
        }
    }
}
