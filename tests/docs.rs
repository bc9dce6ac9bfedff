//! The documentation stays true: the hand-written task-file page names every
//! key the loader accepts, and its example is a valid task file.

use std::path::Path;

use kron::taskfile::{LOG_KEYS, RETRY_KEYS, SHARED_KEYS, TASK_ONLY_KEYS};

fn page() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("man/kron-tasks.5")).unwrap()
}

#[test]
fn the_task_file_page_names_every_key() {
    let page = page();
    let keys = TASK_ONLY_KEYS
        .iter()
        .chain(&SHARED_KEYS)
        .chain(&RETRY_KEYS)
        .chain(&LOG_KEYS);
    for key in keys {
        // A key is documented where a roff font macro (.B, .BR, ...) sets it.
        let named = page.lines().any(|line| {
            line.starts_with(".B")
                && line
                    .split_whitespace()
                    .skip(1)
                    .any(|w| w.trim_matches([',', '"']) == *key)
        });
        assert!(named, "man/kron-tasks.5 does not document `{key}`");
    }
}

#[test]
fn the_task_file_page_example_is_valid() {
    let page = page();
    let start =
        page.find(".SH EXAMPLE\n.nf\n").expect("an EXAMPLE section") + ".SH EXAMPLE\n.nf\n".len();
    let end = start + page[start..].find("\n.fi").unwrap();
    let example = &page[start..end];
    let file = kron::taskfile::parse(example, Path::new("kron-tasks.5")).unwrap_or_else(|errors| {
        panic!(
            "{}",
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        )
    });
    assert_eq!(file.tasks.len(), 2);
}
