//! Machine-wide facts: memory, boot time, users.

use std::time::{Duration, SystemTime};

use crate::sys::imp;
use crate::Result;

/// Total physical memory in bytes.
///
/// # Errors
///
/// Only if the OS does not say (Linux: `/proc/meminfo` unreadable).
pub fn total_memory() -> Result<u64> {
    imp::total_memory()
}

/// When the machine booted.
///
/// # Errors
///
/// Only if the OS does not say (Linux: `/proc/stat` unreadable).
pub fn boot_time() -> Result<SystemTime> {
    Ok(SystemTime::UNIX_EPOCH + Duration::from_secs(imp::boot_time_secs()?))
}

/// How long the machine has been up (time since boot, suspend excluded on Linux).
///
/// # Errors
///
/// Only if the OS does not say (Linux: `/proc/uptime` unreadable).
pub fn uptime() -> Result<Duration> {
    imp::uptime()
}

/// The uid of the user called `name`, from the system's user database (NSS on Linux);
/// `Ok(None)` if there is no such user.
///
/// # Errors
///
/// Only if the user database itself fails.
pub fn user_id(name: &str) -> Result<Option<u32>> {
    imp::user_id(name)
}

/// A user account: ids and supplementary groups, as a login would get them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Login name.
    pub name: String,
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Every group the user is in (primary included), as `initgroups(3)` would set them.
    pub groups: Vec<u32>,
}

/// Looks up a user account by name; `Ok(None)` if there is none.
///
/// # Errors
///
/// Only if the user database itself fails.
pub fn user(name: &str) -> Result<Option<User>> {
    imp::user(name)
}

/// The gid of the group called `name`; `Ok(None)` if there is none.
///
/// # Errors
///
/// Only if the group database itself fails.
pub fn group_id(name: &str) -> Result<Option<u32>> {
    imp::group_id(name)
}

/// The name of the user with `uid`, or `None` if the user database has none.
pub fn user_name(uid: u32) -> Option<String> {
    imp::user_name(uid)
}

/// Raises this process's soft limit on open files to its hard limit (what `ulimit -n`
/// shows to what `ulimit -Hn` allows), and returns the new soft limit. Each open
/// [`Process`](crate::Process) holds one descriptor, so waiting on thousands at once
/// needs this.
///
/// # Errors
///
/// Only if the OS refuses.
///
/// # Platform-specific behavior
///
/// Linux: `setrlimit(RLIMIT_NOFILE)`. Windows has no such limit and returns
/// `u64::MAX`.
pub fn raise_fd_limit() -> Result<u64> {
    imp::raise_fd_limit()
}
