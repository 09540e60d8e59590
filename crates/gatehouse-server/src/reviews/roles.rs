//! What the policy folder's roles mean for a review: which are privileged
//! (they change who may do what), which let their holder own a scope (manage
//! its grants), which manage policy, and whether one role allows strictly
//! less than another.

use std::collections::{BTreeMap, BTreeSet};

use gatehouse_policy::Policies;

/// Actions that make a role privileged for reviews: holding them changes
/// who may do what.
const PRIVILEGED_ACTIONS: &[&str] =
    &["grant.manage", "identity.manage", "policy.manage", "access.approve", "vendor.manage"];

#[derive(Debug, Clone, Default)]
pub struct RoleFacts {
    /// Each role's actions; `None` for a role that constrains no action.
    actions: BTreeMap<String, Option<BTreeSet<String>>>,
}

impl RoleFacts {
    pub fn of(policies: &Policies) -> Self {
        let actions = policies
            .roles()
            .into_iter()
            .map(|role| {
                let actions = (!role.all_actions).then(|| role.actions.into_iter().collect());
                (role.name, actions)
            })
            .collect();
        Self { actions }
    }

    fn allows(&self, role: &str, action: &str) -> bool {
        match self.actions.get(role) {
            Some(None) => true,
            Some(Some(actions)) => actions.contains(action),
            None => false,
        }
    }

    pub fn is_privileged(&self, role: &str) -> bool {
        PRIVILEGED_ACTIONS.iter().any(|action| self.allows(role, action))
    }

    pub fn manages_policy(&self, role: &str) -> bool {
        self.allows(role, "policy.manage")
    }

    /// Roles whose holders own a scope's grants (`grant.manage`).
    pub fn owner_roles(&self) -> Vec<String> {
        self.actions.keys().filter(|role| self.allows(role, "grant.manage")).cloned().collect()
    }

    /// Whether `new` allows strictly less than `old`.
    pub fn smaller(&self, old: &str, new: &str) -> bool {
        match (self.actions.get(old), self.actions.get(new)) {
            (Some(None), Some(Some(_))) => true,
            (Some(Some(old)), Some(Some(new))) => new.is_subset(old) && new.len() < old.len(),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_roles_read_as_reviews_need() {
        let facts = RoleFacts::of(&Policies::defaults());
        assert!(facts.is_privileged("admin"));
        assert!(!facts.is_privileged("viewer"));
        assert!(!facts.is_privileged("deployer"));
        assert!(facts.manages_policy("admin"));
        assert!(!facts.manages_policy("auditor"));
        assert!(facts.owner_roles().contains(&"admin".to_owned()));
        assert!(facts.smaller("admin", "viewer"));
        assert!(!facts.smaller("viewer", "admin"));
        assert!(!facts.smaller("viewer", "viewer"));
        assert!(!facts.smaller("viewer", "no-such-role"));
    }
}
