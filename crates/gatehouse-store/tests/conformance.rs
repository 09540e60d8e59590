//! Runs the domain's storage conformance suite on both engines: every test
//! of every area, as `AREA::TEST::sqlite` and `AREA::TEST::postgres`, from
//! the suite's one list ([`gatehouse_domain::conformance_suite!`]).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use gatehouse_domain::conformance::{self, COVERAGE};
use gatehouse_domain::store::Area;
use gatehouse_testkit::{engine_test, with_store};

macro_rules! engine_tests {
    ($($area:ident => $module:ident: [$($test:ident),* $(,)?]),* $(,)?) => {
        $(
            mod $module {
                use super::*;

                $(engine_test!($test, |engine| with_store(engine, conformance::$module::$test));)*
            }
        )*

        /// Each area module's source, to find tests written but not listed.
        const SOURCES: &[(&str, &str)] = &[$((
            stringify!($module),
            include_str!(concat!("../../gatehouse-domain/src/conformance/", stringify!($module), ".rs")),
        )),*];
    };
}

gatehouse_domain::conformance_suite!(engine_tests);

#[test]
fn every_area_of_the_store_has_conformance_tests() {
    for area in Area::ALL {
        let tests =
            COVERAGE.iter().filter(|(covered, _, _)| covered == area).map(|(_, _, tests)| tests.len()).sum::<usize>();
        assert!(tests > 0, "the {area:?} store has no conformance test");
    }
}

/// A test function written in an area module but left out of
/// `conformance_suite!` would never run: every `pub async fn` there is a
/// test and must be listed.
#[test]
fn every_conformance_test_written_is_run() {
    for (module, source) in SOURCES {
        let listed = COVERAGE.iter().find(|(_, name, _)| name == module).map(|(_, _, tests)| *tests).unwrap();
        for line in source.lines() {
            let Some(rest) = line.strip_prefix("pub async fn ") else { continue };
            let name = rest.split('(').next().unwrap();
            assert!(listed.contains(&name), "conformance::{module}::{name} is not in conformance_suite!");
        }
    }
}
