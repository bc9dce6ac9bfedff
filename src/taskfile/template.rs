//! The task file a new user's first `kron edit` starts from: a short,
//! commented example of every key. It is itself a valid task file (with no
//! tasks), and uncommenting every example gives a valid file too; the tests
//! below hold it to both.

/// The template's text (`template.toml` beside this file).
pub const TEMPLATE: &str = include_str!("template.toml");

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::TEMPLATE;
    use crate::taskfile::{
        HISTORY_KEYS, LIMIT_KEYS, LOG_KEYS, RETRY_KEYS, SHARED_KEYS, TASK_ONLY_KEYS, TaskCommand,
        parse,
    };

    /// The template with every commented-out table header and `key = value`
    /// line switched on; prose comments stay comments.
    fn uncommented() -> String {
        TEMPLATE
            .lines()
            .map(|line| match line.strip_prefix("# ") {
                Some(rest) if is_toml(rest) => rest,
                _ => line,
            })
            .map(|line| format!("{line}\n"))
            .collect()
    }

    fn is_toml(line: &str) -> bool {
        let key = line.split(" = ").next().unwrap_or("");
        line.starts_with('[')
            || (line.contains(" = ")
                && !key.is_empty()
                && key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
    }

    #[test]
    fn the_template_is_a_valid_task_file_without_tasks() {
        let file = parse(TEMPLATE, Path::new("template.toml")).unwrap();
        assert!(file.tasks.is_empty());
        assert!(TEMPLATE.lines().count() <= 60, "keep the template short");
    }

    #[test]
    fn every_example_works_when_uncommented() {
        let text = uncommented();
        let file =
            parse(&text, Path::new("template.toml")).unwrap_or_else(|d| panic!("{d:#?}\n{text}"));
        assert_eq!(file.tasks.len(), 2, "{text}");
        let commands: Vec<&TaskCommand> = file.tasks.iter().map(|t| &t.command).collect();
        assert!(matches!(commands[0], TaskCommand::Argv(_)));
        assert!(matches!(commands[1], TaskCommand::Shell(_)));
        let keys: Vec<&str> = text
            .lines()
            .filter(|l| is_toml(l))
            .filter_map(|l| l.split(" = ").next())
            .collect();
        for key in TASK_ONLY_KEYS.iter().chain(&SHARED_KEYS) {
            assert!(keys.contains(key), "the template shows no `{key}`");
        }
        for key in RETRY_KEYS
            .iter()
            .chain(&LOG_KEYS)
            .chain(&LIMIT_KEYS)
            .chain(&HISTORY_KEYS)
        {
            assert!(text.contains(&format!("{key} = ")), "no `{key}`");
        }
        assert!(file.defaults.retry_jitter.is_some() && file.defaults.log_keep.is_some());
    }
}
