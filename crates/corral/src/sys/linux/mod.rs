//! The Linux backend: procfs readers, pidfd, cgroups.
