//! Where gatehouse may connect when it fetches on its own (issuers' JWKS and
//! discovery documents, the GitHub API): public addresses only, unless
//! configuration allows loopback (`[outbound] allow_loopback`) or names
//! private ranges (`[outbound] allow_private`). A refusal names the rule,
//! never the address, so a fetch cannot be used to map a private network.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// An address range: `10.0.0.0/8`, `fd00::/8`, or one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an address range (e.g. `10.0.0.0/8`)")]
pub struct CidrError(pub String);

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = || CidrError(text.to_owned());
        let (address, prefix) = match text.trim().split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text.trim(), None),
        };
        let network: IpAddr = address.parse().map_err(|_| error())?;
        let bits = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(prefix) if prefix.bytes().all(|b| b.is_ascii_digit()) => prefix.parse().map_err(|_| error())?,
            Some(_) => return Err(error()),
            None => bits,
        };
        if prefix > bits {
            return Err(error());
        }
        Ok(Self { network, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl Cidr {
    pub fn contains(&self, address: IpAddr) -> bool {
        match (self.network, canonical(address)) {
            (IpAddr::V4(network), IpAddr::V4(address)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(network) & mask == u32::from(address) & mask
            }
            (IpAddr::V6(network), IpAddr::V6(address)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(network) & mask == u128::from(address) & mask
            }
            _ => false,
        }
    }
}

/// What kind of address a fetch would reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressKind {
    Public,
    /// 127.0.0.0/8, ::1, and the unspecified addresses (which reach this host).
    Loopback,
    /// 169.254.0.0/16 (cloud metadata services live here), fe80::/10.
    LinkLocal,
    /// RFC 1918, shared address space (100.64.0.0/10), unique local (fc00::/7).
    Private,
    /// Multicast, broadcast, reserved: never a fetch's destination.
    Reserved,
}

/// An IPv4 address written as IPv6 (`::ffff:127.0.0.1`) is judged as IPv4.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

pub fn classify(address: IpAddr) -> AddressKind {
    match canonical(address) {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(address: Ipv4Addr) -> AddressKind {
    let [a, b, ..] = address.octets();
    if address.is_loopback() || a == 0 {
        AddressKind::Loopback
    } else if address.is_link_local() {
        AddressKind::LinkLocal
    } else if address.is_private() || (a == 100 && (64..128).contains(&b)) {
        AddressKind::Private
    } else if address.is_multicast() || address.is_broadcast() || a >= 240 {
        AddressKind::Reserved
    } else {
        AddressKind::Public
    }
}

fn classify_v6(address: Ipv6Addr) -> AddressKind {
    let first = address.segments()[0];
    if address.is_loopback() || address.is_unspecified() {
        AddressKind::Loopback
    } else if first & 0xffc0 == 0xfe80 {
        AddressKind::LinkLocal
    } else if first & 0xfe00 == 0xfc00 {
        AddressKind::Private
    } else if address.is_multicast() {
        AddressKind::Reserved
    } else {
        AddressKind::Public
    }
}

/// Which non-public addresses outbound fetches may reach.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboundRules {
    pub allow_loopback: bool,
    pub allow_private: Vec<Cidr>,
}

/// Why an address was refused: the rule, not the address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OutboundRefusal {
    #[error("the address is loopback, refused unless `[outbound] allow_loopback = true`")]
    Loopback,
    #[error("the address is link-local, refused unless listed in `[outbound] allow_private`")]
    LinkLocal,
    #[error("the address is private, refused unless listed in `[outbound] allow_private`")]
    Private,
    #[error("the address is reserved or multicast, refused unless listed in `[outbound] allow_private`")]
    Reserved,
}

impl OutboundRules {
    pub fn check(&self, address: IpAddr) -> Result<(), OutboundRefusal> {
        if self.allow_private.iter().any(|range| range.contains(address)) {
            return Ok(());
        }
        match classify(address) {
            AddressKind::Public => Ok(()),
            AddressKind::Loopback if self.allow_loopback => Ok(()),
            AddressKind::Loopback => Err(OutboundRefusal::Loopback),
            AddressKind::LinkLocal => Err(OutboundRefusal::LinkLocal),
            AddressKind::Private => Err(OutboundRefusal::Private),
            AddressKind::Reserved => Err(OutboundRefusal::Reserved),
        }
    }
}

#[cfg(test)]
mod tests;
