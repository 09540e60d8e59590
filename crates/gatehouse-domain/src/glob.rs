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

/// Whether some value matches both patterns: two approval rules whose
/// resources overlap must say which comes first.
pub fn overlaps(a: &str, b: &str) -> bool {
    let (a, b) = (tokens(a), tokens(b));
    // The characters worth trying: every literal of either pattern, `/`,
    // and one that is in neither (only a star can take it).
    let mut alphabet: Vec<u8> =
        a.iter().chain(&b).filter_map(|t| if let Token::Byte(c) = t { Some(*c) } else { None }).collect();
    alphabet.push(b'/');
    alphabet.push((0u8..=255).find(|c| !alphabet.contains(c) && *c != b'*').unwrap_or(0));
    alphabet.sort_unstable();
    alphabet.dedup();
    let mut seen = vec![vec![false; b.len() + 1]; a.len() + 1];
    let mut frontier: Vec<(usize, usize)> = closure(&a, &b, 0, 0);
    while let Some((i, j)) = frontier.pop() {
        if seen[i][j] {
            continue;
        }
        seen[i][j] = true;
        if i == a.len() && j == b.len() {
            return true;
        }
        for &c in &alphabet {
            for next_i in step(&a, i, c) {
                for next_j in step(&b, j, c) {
                    frontier.extend(closure(&a, &b, next_i, next_j).into_iter().filter(|(x, y)| !seen[*x][*y]));
                }
            }
        }
    }
    false
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Byte(u8),
    /// `*`: any run without `/`.
    Star,
    /// `**`: any run.
    DoubleStar,
}

fn tokens(pattern: &str) -> Vec<Token> {
    let bytes = pattern.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'*') {
            out.push(Token::DoubleStar);
            i += 2;
        } else if bytes[i] == b'*' {
            out.push(Token::Star);
            i += 1;
        } else {
            out.push(Token::Byte(bytes[i]));
            i += 1;
        }
    }
    out
}

/// The positions reachable from `at` by consuming `c` (a star may stay).
fn step(pattern: &[Token], at: usize, c: u8) -> Vec<usize> {
    match pattern.get(at) {
        Some(Token::Byte(b)) if *b == c => vec![at + 1],
        Some(Token::Star) if c != b'/' => vec![at],
        Some(Token::DoubleStar) => vec![at],
        _ => vec![],
    }
}

/// The pairs reachable from `(i, j)` by skipping stars on either side.
fn closure(a: &[Token], b: &[Token], i: usize, j: usize) -> Vec<(usize, usize)> {
    let skips = |pattern: &[Token], mut at: usize| {
        let mut reach = vec![at];
        while matches!(pattern.get(at), Some(Token::Star | Token::DoubleStar)) {
            at += 1;
            reach.push(at);
        }
        reach
    };
    let (from_a, from_b) = (skips(a, i), skips(b, j));
    from_a.iter().flat_map(|x| from_b.iter().map(move |y| (*x, *y))).collect()
}

#[cfg(test)]
mod tests {
    use super::{matches, overlaps};

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

    #[test]
    fn overlapping_patterns_share_a_value() {
        for (a, b) in [
            ("environment:*/*:production", "environment:acme/web:production"),
            ("environment:*/*:production", "environment:acme/*:*"),
            ("environment:**", "environment:*/*:production"),
            ("a*b", "*c*"),
            ("x", "x"),
            ("**", ""),
            ("*", "a"),
        ] {
            assert!(overlaps(a, b), "{a} ~ {b}");
            assert!(overlaps(b, a), "{b} ~ {a}");
        }
    }

    #[test]
    fn disjoint_patterns_share_no_value() {
        for (a, b) in [
            ("environment:*/*:production", "environment:*/*:staging"),
            ("environment:*/*:production", "project:*/*"),
            ("refs/heads/*", "refs/heads/a/b"),
            ("*", "a/b"),
            ("a*", "b*"),
            ("x", "y"),
            ("", "x"),
        ] {
            assert!(!overlaps(a, b), "{a} ~ {b}");
            assert!(!overlaps(b, a), "{b} ~ {a}");
        }
    }

    proptest::proptest! {
        /// A value both patterns match proves they overlap; over a
        /// three-letter alphabet every short value is tried.
        #[test]
        fn a_shared_value_means_overlap(a in "[ab/*]{0,5}", b in "[ab/*]{0,5}") {
            let mut values = vec![String::new()];
            for _ in 0..5 {
                let longer: Vec<String> =
                    values.iter().flat_map(|v| ["a", "b", "/"].map(|c| format!("{v}{c}"))).collect();
                values.extend(longer);
                values.dedup();
            }
            let shared = values.iter().any(|v| matches(&a, v) && matches(&b, v));
            if shared {
                proptest::prop_assert!(overlaps(&a, &b), "{a} and {b} share a value");
            }
        }
    }
}
