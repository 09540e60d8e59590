//! The declared routes against the OpenAPI document and the MFA enrollment
//! allow-list. The router itself is probed in `tests/it/routes.rs`.

use super::*;

#[test]
fn no_route_is_both_documented_and_undocumented() {
    let documented = document_pairs(&crate::openapi::document());
    let mut undocumented = pairs(&crate::undocumented_routes(), "");
    undocumented.extend(pairs(&crate::scim::routes(), crate::scim::PREFIX));
    undocumented.extend(pairs(&crate::web::routes(), ""));
    let both: Vec<_> = documented.intersection(&undocumented).collect();
    assert!(both.is_empty(), "declared twice: {both:?}");
    assert_eq!(declared_routes().len(), documented.len() + undocumented.len());
}

#[test]
fn the_mfa_enrollment_paths_are_served_routes() {
    let declared = declared_routes();
    for (method, path) in crate::auth::ENROLLMENT_PATHS {
        assert!(declared.contains(&(method.to_owned(), path.to_owned())), "{method} {path} is not a route");
    }
}

#[test]
fn each_undocumented_route_keeps_its_method() {
    for route in crate::undocumented_routes().iter().chain(&crate::scim::routes()).chain(&crate::web::routes()) {
        let method = route.method.as_str();
        assert!(["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&method), "{method} {}", route.path);
    }
}
