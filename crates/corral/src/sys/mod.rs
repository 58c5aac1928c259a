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

/// Sums memory maps by path, as psutil's `memory_maps(grouped=True)`: one entry per
/// distinct path, in the order each path first appears, `addr` and `perms` set to `None`;
/// sums saturate instead of overflowing.
#[cfg(all(any(target_os = "linux", windows), not(feature = "force-unsupported")))]
pub(crate) fn group_maps(maps: &[crate::info::MemoryMap]) -> Vec<crate::info::MemoryMap> {
    use crate::info::MemoryMap;
    let mut out: Vec<MemoryMap> = Vec::new();
    let mut index: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for m in maps {
        let i = *index.entry(m.path.as_str()).or_insert_with(|| {
            out.push(MemoryMap {
                path: m.path.clone(),
                ..MemoryMap::default()
            });
            out.len() - 1
        });
        let g = &mut out[i];
        g.size = g.size.saturating_add(m.size);
        g.rss = g.rss.saturating_add(m.rss);
        g.pss = g.pss.saturating_add(m.pss);
        g.shared_clean = g.shared_clean.saturating_add(m.shared_clean);
        g.shared_dirty = g.shared_dirty.saturating_add(m.shared_dirty);
        g.private_clean = g.private_clean.saturating_add(m.private_clean);
        g.private_dirty = g.private_dirty.saturating_add(m.private_dirty);
        g.referenced = g.referenced.saturating_add(m.referenced);
        g.anonymous = g.anonymous.saturating_add(m.anonymous);
        g.swap = g.swap.saturating_add(m.swap);
    }
    out
}
