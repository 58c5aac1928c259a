//! The one platform switch.
//!
//! Exactly one backend is compiled: `linux` on Linux, `windows` on Windows, `unsupported`
//! elsewhere (or everywhere with the `force-unsupported` feature, which CI builds to keep
//! the contract honest). Every backend provides the same items; ARCHITECTURE.md lists the contract.
//! Nothing outside `sys/` and `os/` may name a platform.

#[cfg(all(target_os = "linux", not(feature = "force-unsupported")))]
pub(crate) mod linux;
#[cfg(all(target_os = "linux", not(feature = "force-unsupported")))]
pub(crate) use linux as imp;

#[cfg(all(windows, not(feature = "force-unsupported")))]
pub(crate) mod windows;
#[cfg(all(windows, not(feature = "force-unsupported")))]
pub(crate) use windows as imp;

#[cfg(any(not(any(target_os = "linux", windows)), feature = "force-unsupported"))]
pub(crate) mod unsupported;
#[cfg(any(not(any(target_os = "linux", windows)), feature = "force-unsupported"))]
pub(crate) use unsupported as imp;

/// The notification thread's channel sleep, for the backends without kernel memory
/// thresholds.
#[cfg(any(not(target_os = "linux"), feature = "force-unsupported"))]
mod notify_channel;
