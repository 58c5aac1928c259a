//! The sleep of the notification-limit thread (`job_limits::Notifier`) where the OS gives
//! it nothing to wait on but the stop request: a channel. Shared by the backends without
//! a kernel memory-threshold notification (Windows, unsupported).

use std::sync::mpsc;
use std::time::Duration;

use crate::job_limits::NotifyWake;
use crate::Result;

/// Where the notification thread sleeps; [`NotifyStop`] ends the sleep for good.
#[derive(Debug)]
pub(crate) struct NotifyWait {
    rx: mpsc::Receiver<()>,
    tx: mpsc::Sender<()>,
}

/// Stops a [`NotifyWait`] (also when dropped with every other stopper).
#[derive(Debug)]
pub(crate) struct NotifyStop(mpsc::Sender<()>);

impl NotifyWait {
    /// A sleep with no memory threshold: here the job memory notification is sampled.
    pub(crate) fn new(_view: &super::imp::JobView, _memory: Option<u64>) -> Result<NotifyWait> {
        let (tx, rx) = mpsc::channel();
        Ok(NotifyWait { rx, tx })
    }

    /// What stops this sleep.
    pub(crate) fn stopper(&self) -> NotifyStop {
        NotifyStop(self.tx.clone())
    }

    /// Whether the kernel reports memory crossings (never, here).
    pub(crate) fn memory_exact(&self) -> bool {
        false
    }

    /// Sleeps for `timeout` (`None`: until stopped).
    pub(crate) fn wait(&mut self, timeout: Option<Duration>) -> NotifyWake {
        let r = match timeout {
            Some(t) => self.rx.recv_timeout(t),
            None => self
                .rx
                .recv()
                .map_err(|_| mpsc::RecvTimeoutError::Disconnected),
        };
        match r {
            Err(mpsc::RecvTimeoutError::Timeout) => NotifyWake::Timeout,
            _ => NotifyWake::Stop,
        }
    }
}

impl NotifyStop {
    /// Ends the sleep (and every later one).
    pub(crate) fn stop(&self) {
        let _ = self.0.send(());
    }
}
