//! Linux-only extensions of portable types.

use std::os::fd::BorrowedFd;

use crate::Process;

/// Linux-only methods of [`Process`].
pub trait ProcessExt {
    /// The pidfd this `Process` holds, if the kernel gave one (`pidfd_open`, Linux 5.3+).
    ///
    /// Use it to wait with your own event loop (it becomes readable when the process
    /// exits) or to pass to `pidfd_send_signal`/`pidfd_getfd`. It stays owned by the
    /// `Process`.
    fn pidfd(&self) -> Option<BorrowedFd<'_>>;

    /// The start time in clock ticks after boot (field 22 of `/proc/PID/stat`): with the
    /// pid, what identifies the process.
    fn start_ticks(&self) -> u64;
}

impl ProcessExt for Process {
    fn pidfd(&self) -> Option<BorrowedFd<'_>> {
        self.handle().pidfd()
    }

    fn start_ticks(&self) -> u64 {
        self.handle().start_ticks
    }
}

/// Linux-only methods of [`Command`](crate::Command).
pub trait CommandExt {
    /// Keeps `fd` open in the child (at the same number) and closes every other
    /// inherited descriptor above 2, as [`Command::close_inherited`](crate::Command::close_inherited)
    /// does: handle inheritance as an explicit list. The caller keeps `fd` open until
    /// the child is spawned.
    fn keep_fd(self, fd: std::os::fd::BorrowedFd<'_>) -> Self;
}

impl CommandExt for crate::Command {
    fn keep_fd(mut self, fd: std::os::fd::BorrowedFd<'_>) -> Self {
        use std::os::fd::AsRawFd;
        self.keep_raw_fd(fd.as_raw_fd());
        self
    }
}
