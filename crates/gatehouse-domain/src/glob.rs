//! Globs for claim conditions and file paths, deliberately small:
//!
//! - `*` matches any run of characters except `/` (it stays within one
//!   path segment: `refs/heads/*` matches `refs/heads/main`, not
//!   `refs/heads/feature/x`);
//! - `**` matches any run of characters including `/` (`.github/workflows/**`
//!   matches every file under that folder);
//! - every other character, `?`, `[` and `\` included, matches only itself.
//!
//! There are no character classes, alternatives or escapes, so a pattern
//! means what it looks like and matching is linear in practice.

/// Whether `value` matches `pattern` as a whole.
pub fn matches(pattern: &str, value: &str) -> bool {
    matches_bytes(pattern.as_bytes(), value.as_bytes())
}

/// Whether `pattern` contains a wildcard at all.
pub fn is_glob(pattern: &str) -> bool {
    pattern.contains('*')
}

/// Walks the pattern once, keeping the set of value positions reachable so
/// far (a bitmap), so the cost is O(pattern × value) whatever the stars.
fn matches_bytes(pattern: &[u8], value: &[u8]) -> bool {
    let mut reachable = vec![false; value.len() + 1];
    reachable[0] = true;
    let mut p = 0;
    while p < pattern.len() {
        let mut next = vec![false; value.len() + 1];
        if pattern[p] == b'*' && pattern.get(p + 1) == Some(&b'*') {
            if let Some(first) = reachable.iter().position(|&r| r) {
                next[first..].fill(true);
            }
            p += 2;
        } else if pattern[p] == b'*' {
            for i in 0..=value.len() {
                if reachable[i] || (i > 0 && next[i - 1] && value[i - 1] != b'/') {
                    next[i] = true;
                }
            }
            p += 1;
        } else {
            for i in 0..value.len() {
                next[i + 1] = reachable[i] && value[i] == pattern[p];
            }
            p += 1;
        }
        reachable = next;
    }
    reachable[value.len()]
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn literals_match_only_themselves() {
        assert!(matches("refs/heads/main", "refs/heads/main"));
        assert!(!matches("refs/heads/main", "refs/heads/main2"));
        assert!(!matches("refs/heads/main", "refs/heads/mai"));
        assert!(matches("a?[b]\\", "a?[b]\\"));
        assert!(!matches("a?", "ab"));
        assert!(matches("", ""));
        assert!(!matches("", "x"));
    }

    #[test]
    fn a_star_stays_within_one_segment() {
        assert!(matches("refs/heads/*", "refs/heads/main"));
        assert!(matches("refs/heads/*", "refs/heads/"));
        assert!(!matches("refs/heads/*", "refs/heads/feature/x"));
        assert!(matches("repo:acme/*:ref:refs/heads/main", "repo:acme/web:ref:refs/heads/main"));
        assert!(!matches("repo:acme/*:ref:refs/heads/main", "repo:acme/web/x:ref:refs/heads/main"));
        assert!(matches("release-*-final", "release-1.2-final"));
        assert!(!matches("release-*-final", "release-1.2-finals"));
        assert!(matches("*", "anything-without-slash"));
        assert!(!matches("*", "a/b"));
    }

    #[test]
    fn a_double_star_crosses_segments() {
        assert!(matches(".github/workflows/**", ".github/workflows/ci.yml"));
        assert!(matches(".github/workflows/**", ".github/workflows/sub/deploy.yml"));
        assert!(!matches(".github/workflows/**", ".github/actions/x.yml"));
        assert!(matches("**/Jenkinsfile", "ci/Jenkinsfile"));
        assert!(matches("**", "a/b/c"));
        assert!(matches(
            "acme/web/.github/workflows/**@refs/heads/main",
            "acme/web/.github/workflows/d.yml@refs/heads/main"
        ));
    }

    #[test]
    fn many_stars_do_not_blow_up() {
        let value = "a".repeat(40);
        assert!(!matches("*a*a*a*a*a*a*a*a*b", &value));
        assert!(matches("*a*a*a*a*a*a*a*a*", &value));
    }
}
