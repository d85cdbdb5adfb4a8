//! The small glob language of gitops.yaml `exclude:`: `*` matches within one path segment,
//! `**` across segments, `?` one character. A pattern without `/` matches a file or folder
//! name at any depth; a pattern that matches a folder excludes everything below it.

/// A bound on the work of matching globs against paths: each comparison costs at most
/// (pattern length × path length) steps, and a walk may spend only so many.
#[derive(Debug, Clone)]
pub struct Budget {
    left: u64,
    spent: u64,
}

impl Budget {
    pub fn new(max: u64) -> Budget {
        Budget {
            left: max,
            spent: 0,
        }
    }

    /// Spends the cost of comparing a pattern with a path; `Err(spent)` when the budget is
    /// gone.
    pub fn spend(&mut self, pattern_len: usize, path_len: usize) -> Result<(), u64> {
        let cost = (pattern_len.max(1) as u64).saturating_mul(path_len.max(1) as u64);
        self.spent = self.spent.saturating_add(cost);
        match self.left.checked_sub(cost) {
            Some(left) => {
                self.left = left;
                Ok(())
            }
            None => Err(self.spent),
        }
    }
}

/// Whether `rel` (a `/`-separated relative path) is excluded by `pattern`.
pub fn excludes(pattern: &str, rel: &str) -> bool {
    let pattern = pattern.trim_start_matches("./").trim_end_matches('/');
    if pattern.is_empty() {
        return false;
    }
    let anchored = pattern.contains('/');
    // Test the path and each of its folders: `charts` or `charts/**` exclude `charts/a.yaml`.
    let mut ends: Vec<usize> = rel.match_indices('/').map(|(i, _)| i).collect();
    ends.push(rel.len());
    ends.into_iter().any(|end| {
        let prefix = &rel[..end];
        if anchored {
            matches(pattern.as_bytes(), prefix.as_bytes())
        } else {
            let name = prefix.rsplit('/').next().unwrap_or(prefix);
            matches(pattern.as_bytes(), name.as_bytes())
        }
    })
}

fn matches(p: &[u8], s: &[u8]) -> bool {
    // Iterative matching with one backtrack point per star kind keeps this linear-ish and
    // free of recursion on hostile patterns.
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize, bool)> = None;
    while si < s.len() {
        if pi < p.len() {
            if p[pi] == b'*' {
                let double = p.get(pi + 1) == Some(&b'*');
                let next = if double { pi + 2 } else { pi + 1 };
                // `**/` also matches zero folders.
                let next = if double && p.get(next) == Some(&b'/') {
                    next + 1
                } else {
                    next
                };
                star = Some((next, si, double));
                pi = next;
                continue;
            }
            if p[pi] == b'?' && s[si] != b'/' || p[pi] == s[si] {
                pi += 1;
                si += 1;
                continue;
            }
        }
        match star {
            Some((sp, ss, double)) if double || s[ss] != b'/' => {
                star = Some((sp, ss + 1, double));
                pi = sp;
                si = ss + 1;
            }
            _ => return false,
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::excludes;

    const CASES: &[(&str, &str, bool)] = &[
        ("values.yaml", "values.yaml", true),
        ("values.yaml", "charts/x/values.yaml", true),
        ("*.json", "a/b/c.json", true),
        ("*.json", "a/b/c.yaml", false),
        ("charts", "charts/x/templates/a.yaml", true),
        ("charts/**", "charts/x/a.yaml", true),
        ("charts/*.yaml", "charts/a.yaml", true),
        ("charts/*.yaml", "charts/x/a.yaml", false),
        ("docs/*.yaml", "src/docs/a.yaml", false),
        ("**/test-*.yaml", "a/b/test-1.yaml", true),
        ("**/test-*.yaml", "test-1.yaml", true),
        ("k8s/?.yaml", "k8s/a.yaml", true),
        ("k8s/?.yaml", "k8s/ab.yaml", false),
        ("", "a.yaml", false),
    ];

    #[test]
    fn budget_runs_out() {
        let mut b = super::Budget::new(100);
        assert!(b.spend(5, 10).is_ok());
        assert!(b.spend(5, 10).is_ok());
        assert_eq!(b.spend(1, 1), Err(101));
    }

    #[test]
    fn table() {
        for (p, path, want) in CASES {
            assert_eq!(excludes(p, path), *want, "{p} vs {path}");
        }
    }
}
