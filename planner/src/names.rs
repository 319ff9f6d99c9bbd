//! Names in SQL and job files (columns, tables, features, sinks) compare case-insensitively,
//! as Flink's unquoted identifiers resolve in practice: for every letter, not only ASCII
//! (`usér` is `USÉR`).

/// Whether `a` and `b` are the same name.
pub fn same_name(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
        || (!(a.is_ascii() && b.is_ascii()) && a.to_lowercase() == b.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::same_name;

    #[test]
    fn names_compare_without_case_for_every_letter() {
        assert!(same_name("user_id", "USER_ID"));
        assert!(same_name("usér", "USÉR"));
        assert!(same_name("Straße", "STRASSE") == ("straße" == "strasse"));
        assert!(!same_name("usér", "user"));
        assert!(!same_name("a", "b"));
    }
}
