//! The one error type of corral.
//!
//! Every fallible call returns [`Error`], which carries a [`ErrorKind`], the pid it was
//! about (when there was one), the operation that failed and, for OS errors, the
//! underlying [`std::io::Error`].

use std::fmt;
use std::io;

use crate::Pid;

/// What kind of failure an [`Error`] is.
///
/// The kind is what callers match on; the message is for people.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The process (or thread) does not exist, or is no longer the one that was opened:
    /// it exited, or its pid now belongs to another process.
    NoSuchProcess,
    /// The OS refused the operation for lack of privilege.
    AccessDenied,
    /// The process has exited but has not been reaped by its parent; the data asked for
    /// is gone with it.
    Zombie,
    /// A wait ran out of time.
    Timeout,
    /// This platform, kernel or machine cannot do what was asked.
    Unsupported,
    /// An argument was out of range or malformed.
    InvalidInput,
    /// Data read from the OS was not in the expected format.
    Parse,
    /// Any other OS error; see [`Error::os_error`].
    Os,
}

impl ErrorKind {
    /// A short, stable, lower-case name for this kind, as used in JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NoSuchProcess => "no_such_process",
            ErrorKind::AccessDenied => "access_denied",
            ErrorKind::Zombie => "zombie",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::Parse => "parse",
            ErrorKind::Os => "os",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::NoSuchProcess => "no such process",
            ErrorKind::AccessDenied => "access denied",
            ErrorKind::Zombie => "process is a zombie",
            ErrorKind::Timeout => "timed out",
            ErrorKind::Unsupported => "not supported",
            ErrorKind::InvalidInput => "invalid input",
            ErrorKind::Parse => "unexpected data from the OS",
            ErrorKind::Os => "OS error",
        })
    }
}

/// An error from corral: a kind, the pid concerned, the operation, and the cause.
///
/// One pointer wide, so that a `Result<T, Error>` in every field of a snapshot row costs
/// little when, as usual, nothing failed.
pub struct Error(Box<Inner>);

struct Inner {
    kind: ErrorKind,
    pid: Option<Pid>,
    op: &'static str,
    detail: Option<Box<str>>,
    source: Option<io::Error>,
}

/// `Result` with corral's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error of `kind` for operation `op`.
    pub fn new(kind: ErrorKind, op: &'static str) -> Error {
        Error(Box::new(Inner {
            kind,
            pid: None,
            op,
            detail: None,
            source: None,
        }))
    }

    /// An error for operation `op` built from an OS error, classifying its code.
    ///
    /// On Linux, `ESRCH` becomes [`ErrorKind::NoSuchProcess`], `EPERM`/`EACCES`
    /// [`ErrorKind::AccessDenied`], `ENOSYS`/`EOPNOTSUPP` [`ErrorKind::Unsupported`],
    /// `EINVAL` [`ErrorKind::InvalidInput`], `ETIMEDOUT` [`ErrorKind::Timeout`], and anything
    /// else [`ErrorKind::Os`]. `ENOENT` is left as `Os`: only the caller knows whether a
    /// missing file means a missing process. On Windows, `ERROR_ACCESS_DENIED` becomes
    /// [`ErrorKind::AccessDenied`], `ERROR_NOT_SUPPORTED`/`ERROR_CALL_NOT_IMPLEMENTED`
    /// [`ErrorKind::Unsupported`], `ERROR_INVALID_PARAMETER` [`ErrorKind::InvalidInput`],
    /// and anything else [`ErrorKind::Os`].
    pub fn from_io(op: &'static str, err: io::Error) -> Error {
        let kind = match err.kind() {
            io::ErrorKind::PermissionDenied => ErrorKind::AccessDenied,
            io::ErrorKind::TimedOut => ErrorKind::Timeout,
            io::ErrorKind::Unsupported => ErrorKind::Unsupported,
            io::ErrorKind::InvalidInput => ErrorKind::InvalidInput,
            _ => err
                .raw_os_error()
                .and_then(crate::sys::imp::error_kind_of)
                .unwrap_or(ErrorKind::Os),
        };
        Error(Box::new(Inner {
            kind,
            pid: None,
            op,
            detail: None,
            source: Some(err),
        }))
    }

    /// Attaches the pid this error is about.
    pub fn with_pid(mut self, pid: Pid) -> Error {
        self.0.pid = Some(pid);
        self
    }

    /// Attaches a human-readable detail (what was wrong with the input, say).
    pub fn with_detail(mut self, detail: impl Into<String>) -> Error {
        self.0.detail = Some(detail.into().into_boxed_str());
        self
    }

    /// Changes the kind, keeping everything else.
    pub fn with_kind(mut self, kind: ErrorKind) -> Error {
        self.0.kind = kind;
        self
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The pid this error is about, if any.
    pub fn pid(&self) -> Option<Pid> {
        self.0.pid
    }

    /// The operation that failed, such as `"open"` or `"read environ"`.
    pub fn op(&self) -> &'static str {
        self.0.op
    }

    /// The extra detail given for this error, if any.
    pub fn detail(&self) -> Option<&str> {
        self.0.detail.as_deref()
    }

    /// The underlying OS error, if this error came from one.
    pub fn os_error(&self) -> Option<&io::Error> {
        self.0.source.as_ref()
    }

    /// The raw OS error code, if this error came from one.
    pub fn raw_os_error(&self) -> Option<i32> {
        self.0.source.as_ref().and_then(io::Error::raw_os_error)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = &self.0;
        write!(f, "{}", e.op)?;
        if let Some(pid) = e.pid {
            write!(f, " (pid {pid})")?;
        }
        write!(f, ": {}", e.kind)?;
        if let Some(detail) = &e.detail {
            write!(f, ": {detail}")?;
        }
        if let Some(source) = &e.source {
            if e.kind == ErrorKind::Os || e.detail.is_none() {
                write!(f, " ({source})")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = &self.0;
        let mut d = f.debug_struct("Error");
        d.field("kind", &e.kind).field("op", &e.op);
        if let Some(pid) = e.pid {
            d.field("pid", &pid);
        }
        if let Some(detail) = &e.detail {
            d.field("detail", detail);
        }
        if let Some(source) = &e.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0
            .source
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl Clone for Error {
    fn clone(&self) -> Error {
        let e = &self.0;
        Error(Box::new(Inner {
            kind: e.kind,
            pid: e.pid,
            op: e.op,
            detail: e.detail.clone(),
            source: e.source.as_ref().map(|s| match s.raw_os_error() {
                Some(code) => io::Error::from_raw_os_error(code),
                None => io::Error::new(s.kind(), s.to_string()),
            }),
        }))
    }
}

impl From<Error> for io::Error {
    fn from(err: Error) -> io::Error {
        let kind = match err.kind() {
            ErrorKind::NoSuchProcess | ErrorKind::Zombie => io::ErrorKind::NotFound,
            ErrorKind::AccessDenied => io::ErrorKind::PermissionDenied,
            ErrorKind::Timeout => io::ErrorKind::TimedOut,
            ErrorKind::Unsupported => io::ErrorKind::Unsupported,
            ErrorKind::InvalidInput => io::ErrorKind::InvalidInput,
            ErrorKind::Parse => io::ErrorKind::InvalidData,
            ErrorKind::Os => io::ErrorKind::Other,
        };
        io::Error::new(kind, err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_kind_classification() {
        let e = Error::from_io("open", io::Error::from(io::ErrorKind::PermissionDenied));
        assert_eq!(e.kind(), ErrorKind::AccessDenied);
        let e = Error::from_io("open", io::Error::from(io::ErrorKind::Unsupported));
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        let e = Error::from_io("open", io::Error::from(io::ErrorKind::InvalidInput));
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        let e = Error::from_io("open", io::Error::from(io::ErrorKind::NotFound));
        assert_eq!(e.kind(), ErrorKind::Os);
    }

    #[test]
    fn display_names_op_pid_and_kind() {
        let e = Error::new(ErrorKind::AccessDenied, "read environ").with_pid(Pid::new(42).unwrap());
        assert_eq!(e.to_string(), "read environ (pid 42): access denied");
        let e =
            Error::new(ErrorKind::InvalidInput, "parse pid").with_detail("pid 0 is not a process");
        assert_eq!(
            e.to_string(),
            "parse pid: invalid input: pid 0 is not a process"
        );
    }

    #[test]
    fn error_is_one_pointer() {
        assert_eq!(std::mem::size_of::<Error>(), std::mem::size_of::<usize>());
        assert_eq!(std::mem::size_of::<Result<u64>>(), 16);
    }

    #[test]
    fn clone_keeps_errno() {
        let e =
            Error::from_io("x", io::Error::from_raw_os_error(13)).with_pid(Pid::new(7).unwrap());
        let c = e.clone();
        assert_eq!(c.raw_os_error(), Some(13));
        assert_eq!(c.pid(), e.pid());
        assert_eq!(c.kind(), e.kind());
    }
}
