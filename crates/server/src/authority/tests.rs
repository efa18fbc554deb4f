//! Unit tests of the authority.
