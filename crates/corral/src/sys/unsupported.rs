//! The backend for platforms corral does not support yet: every contract item returns
//! [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported).
