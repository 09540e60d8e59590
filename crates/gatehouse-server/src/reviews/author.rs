//! Who a review's writes are recorded as: a person authorized for them
//! (opening or closing under `grant.manage`, deciding as the campaign's
//! reviewer), or gatehouse on its own (a trigger, the scheduler).

use gatehouse_domain::audit::{AuditAction, AuditRecord, SystemWriter};
use gatehouse_domain::authorization::Authorized;
use gatehouse_domain::ids::IdentityId;
use time::OffsetDateTime;

#[derive(Clone, Copy)]
pub enum Author<'a> {
    Person(&'a Authorized),
    System(SystemWriter),
}

impl Author<'_> {
    pub fn record(&self, now: OffsetDateTime, action: AuditAction, resource: impl Into<String>) -> AuditRecord {
        match self {
            Author::Person(authorized) => AuditRecord::authorized(authorized, now, action, resource),
            Author::System(writer) => AuditRecord::system(*writer, now, action, resource),
        }
    }

    pub fn identity(&self) -> Option<IdentityId> {
        match self {
            Author::Person(authorized) => authorized.actor().id().parse().ok(),
            Author::System(_) => None,
        }
    }
}
