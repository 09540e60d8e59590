//! [`Names`]: people and machines as a page shows them (an email, else a
//! name), each identity read once per page.

use std::collections::HashMap;

use gatehouse_domain::audit::Actor;
use gatehouse_domain::identity::Identity;
use gatehouse_domain::ids::IdentityId;

use crate::problem::ApiError;
use crate::state::AppState;

/// An identity as a page names it.
pub fn display_name(identity: &Identity) -> String {
    identity.email.clone().unwrap_or_else(|| identity.name.clone())
}

/// Identity names, each read once per page.
pub struct Names<'a> {
    state: &'a AppState,
    known: HashMap<IdentityId, String>,
}

impl<'a> Names<'a> {
    pub fn new(state: &'a AppState) -> Self {
        Self { state, known: HashMap::new() }
    }

    /// Keeps the name of an identity the page has read already.
    pub fn remember(&mut self, identity: &Identity) {
        self.known.insert(identity.id, display_name(identity));
    }

    /// The name of `id`; the id itself if no such identity exists.
    pub async fn of(&mut self, id: IdentityId) -> Result<String, ApiError> {
        if let Some(name) = self.known.get(&id) {
            return Ok(name.clone());
        }
        let name = match self.state.store.find_identity(id).await? {
            Some(identity) => display_name(&identity),
            None => id.to_string(),
        };
        self.known.insert(id, name.clone());
        Ok(name)
    }

    /// The name of an id given as text (as it is when it is not one, e.g.
    /// `system`).
    pub async fn of_text(&mut self, id: &str) -> Result<String, ApiError> {
        match id.parse::<IdentityId>() {
            Ok(id) => self.of(id).await,
            Err(_) => Ok(id.to_owned()),
        }
    }

    /// An audit entry's actor: an identity's name, or what it is otherwise.
    pub async fn of_actor(&mut self, actor: &Actor) -> Result<String, ApiError> {
        match actor {
            Actor::Identity { id, .. } => self.of_text(id).await,
            other => Ok(other.id().to_owned()),
        }
    }
}
