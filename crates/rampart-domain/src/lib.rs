//! rampart's domain: the types a security profile is made of, parsed from untrusted input into
//! values that can only be valid. Nothing here does I/O.
#![forbid(unsafe_code)]

pub mod computer_query;
pub mod csv;
pub mod profile;
pub mod schedule;
pub mod tailoring;
pub mod time;
pub mod xccdf;
