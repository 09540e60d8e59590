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
