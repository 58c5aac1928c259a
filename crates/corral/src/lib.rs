//! corral: see, control, spawn and confine processes and threads.
#![warn(missing_docs)]

mod error;
pub mod info;
mod pid;
mod sys;

pub use error::{Error, ErrorKind, Result};
pub use pid::{Pid, ProcessRef, Tid};
