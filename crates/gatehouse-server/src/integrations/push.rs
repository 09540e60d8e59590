//! Push events (GitHub `push`, GitLab "Push Hook") that touch pipeline
//! configuration, as audit entries for access reviews to act on.

use gatehouse_domain::glob;
use serde_json::{Value, json};

/// One commit of a push that changed pipeline configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigChange {
    pub commit: String,
    pub author: Value,
    pub paths: Vec<String>,
}

/// Whether `path` is pipeline configuration: it matches one of `patterns`
/// (`[webhooks] pipeline_paths`). The one rule the webhooks, the commit
/// check (`pipeline.config.edit`) and verified pushes share.
pub fn is_pipeline_config(patterns: &[String], path: &str) -> bool {
    patterns.iter().any(|pattern| glob::matches(pattern, path))
}

/// The commits of a push payload (both forges list `commits[]` with
/// `added`, `modified`, `removed`) that touch a path matching `patterns`.
pub fn config_changes(payload: &Value, patterns: &[String]) -> Vec<ConfigChange> {
    let Some(commits) = payload.get("commits").and_then(Value::as_array) else { return Vec::new() };
    commits
        .iter()
        .filter_map(|commit| {
            let mut paths: Vec<String> = ["added", "modified", "removed"]
                .iter()
                .filter_map(|field| commit.get(*field).and_then(Value::as_array))
                .flatten()
                .filter_map(Value::as_str)
                .filter(|path| is_pipeline_config(patterns, path))
                .map(str::to_owned)
                .collect();
            if paths.is_empty() {
                return None;
            }
            paths.sort();
            paths.dedup();
            let author = commit.get("author").cloned().unwrap_or(Value::Null);
            let id = commit.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
            Some(ConfigChange { commit: id, author, paths })
        })
        .collect()
}

pub fn changes_json(changes: &[ConfigChange]) -> Value {
    Value::Array(changes.iter().map(|c| json!({"commit": c.commit, "author": c.author, "paths": c.paths})).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::integrations::DEFAULT_PIPELINE_PATHS;

    #[test]
    fn only_commits_touching_pipeline_paths_count() {
        let patterns: Vec<String> = DEFAULT_PIPELINE_PATHS.iter().map(|p| (*p).to_owned()).collect();
        let payload = json!({"commits": [
            {"id": "a1", "author": {"name": "Ana", "email": "ana@example.com"}, "added": ["src/main.rs"], "modified": [], "removed": []},
            {"id": "b2", "author": {"name": "Bob"}, "added": [], "modified": [".github/workflows/deploy.yml", "README.md"], "removed": []},
            {"id": "c3", "author": {"name": "Cy"}, "added": ["ci/Jenkinsfile"], "modified": [".gitlab-ci.yml"], "removed": ["Jenkinsfile"]},
            {"id": "d4", "modified": [".github/dependabot.yml"]},
        ]});
        let changes = config_changes(&payload, &patterns);
        assert_eq!(changes.len(), 2);
        assert_eq!(changes[0].commit, "b2");
        assert_eq!(changes[0].paths, vec![".github/workflows/deploy.yml"]);
        assert_eq!(changes[1].paths, vec![".gitlab-ci.yml", "Jenkinsfile", "ci/Jenkinsfile"]);
        assert!(config_changes(&json!({"commits": "nope"}), &patterns).is_empty());
        assert!(config_changes(&json!({}), &patterns).is_empty());
    }
}
