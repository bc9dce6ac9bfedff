//! How a word is written for a POSIX shell to read it back: bare when it
//! is plain, else in single quotes. One rule for every line kron prints or
//! writes for a shell: the units' and profile's command lines, `kron add`
//! lines in tips and dry runs, crontab lines, argv commands in tables.

/// `word` as sh reads it back as one word.
pub fn word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "@%+=:,./_-".contains(c));
    if plain {
        word.to_string()
    } else {
        quoted(word)
    }
}

/// `word` as the program of a command: also quoted where sh would read it
/// as an assignment or a reserved word.
pub fn program(word: &str) -> String {
    const RESERVED: [&str; 13] = [
        "if", "then", "else", "elif", "fi", "do", "done", "case", "esac", "while", "until", "for",
        "in",
    ];
    if word.contains('=') || RESERVED.contains(&word) {
        quoted(word)
    } else {
        self::word(word)
    }
}

fn quoted(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_read_back_as_written() {
        assert_eq!(word("/usr/bin/kron"), "/usr/bin/kron");
        assert_eq!(word("a b"), "'a b'");
        assert_eq!(word("it's"), r"'it'\''s'");
        assert_eq!(word(""), "''");
        assert_eq!(word("x=1"), "x=1");
        assert_eq!(program("x=1"), "'x=1'");
        assert_eq!(program("if"), "'if'");
        assert_eq!(program("ls"), "ls");
    }
}
