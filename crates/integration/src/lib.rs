//! Test support for corral integration tests.
