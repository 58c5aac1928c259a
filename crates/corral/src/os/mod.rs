//! Platform-specific extensions: the only public platform `cfg` in corral.

#[cfg(all(target_os = "linux", not(feature = "force-unsupported")))]
pub mod linux;
#[cfg(all(windows, not(feature = "force-unsupported")))]
pub mod windows;
