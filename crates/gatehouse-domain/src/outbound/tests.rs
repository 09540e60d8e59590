use super::*;

#[track_caller]
fn check(rules: &OutboundRules, address: &str, expected: Result<(), OutboundRefusal>) {
    assert_eq!(rules.check(address.parse().unwrap()), expected, "{address}");
}

#[test]
fn only_public_addresses_by_default() {
    let rules = OutboundRules::default();
    for public in ["140.82.112.3", "8.8.8.8", "2606:4700::1111", "100.128.0.1", "172.32.0.1"] {
        check(&rules, public, Ok(()));
    }
    for loopback in ["127.0.0.1", "127.8.9.10", "0.0.0.0", "::1", "::", "::ffff:127.0.0.1"] {
        check(&rules, loopback, Err(OutboundRefusal::Loopback));
    }
    for link_local in ["169.254.169.254", "fe80::1", "::ffff:169.254.169.254"] {
        check(&rules, link_local, Err(OutboundRefusal::LinkLocal));
    }
    for private in ["10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "100.64.0.1", "fd00::1", "fc00::1"] {
        check(&rules, private, Err(OutboundRefusal::Private));
    }
    for reserved in ["224.0.0.1", "255.255.255.255", "240.0.0.1", "ff02::1"] {
        check(&rules, reserved, Err(OutboundRefusal::Reserved));
    }
}

#[test]
fn configuration_opens_loopback_and_named_ranges_only() {
    let rules = OutboundRules {
        allow_loopback: true,
        allow_private: vec!["10.0.0.0/8".parse().unwrap(), "fd12:3456::/32".parse().unwrap()],
    };
    check(&rules, "127.0.0.1", Ok(()));
    check(&rules, "::1", Ok(()));
    check(&rules, "10.200.0.1", Ok(()));
    check(&rules, "::ffff:10.0.0.1", Ok(()));
    check(&rules, "fd12:3456::1", Ok(()));
    check(&rules, "fd12:3457::1", Err(OutboundRefusal::Private));
    check(&rules, "192.168.0.1", Err(OutboundRefusal::Private));
    check(&rules, "169.254.169.254", Err(OutboundRefusal::LinkLocal));
}

#[test]
fn ranges_parse_strictly() {
    assert_eq!("10.0.0.0/8".parse::<Cidr>().unwrap().to_string(), "10.0.0.0/8");
    assert_eq!("192.168.1.5".parse::<Cidr>().unwrap().to_string(), "192.168.1.5/32");
    assert!("0.0.0.0/0".parse::<Cidr>().unwrap().contains("8.8.8.8".parse().unwrap()));
    assert!(!"10.0.0.0/8".parse::<Cidr>().unwrap().contains("::1".parse().unwrap()));
    for bad in ["10.0.0.0/33", "10.0.0/8", "fd00::/129", "10.0.0.0/+8", "10.0.0.0/", "example.com/8", ""] {
        assert!(bad.parse::<Cidr>().is_err(), "{bad}");
    }
}
