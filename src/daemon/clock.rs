//! Sleeping until a wall-clock instant, and noticing when the wall clock
//! jumps, without polling: a `timerfd` on `CLOCK_REALTIME` armed with an
//! absolute deadline and `TFD_TIMER_CANCEL_ON_SET`. The kernel wakes the
//! daemon at the deadline, or makes the read fail with `ECANCELED` as soon
//! as the clock is set discontinuously (a manual change, an NTP step,
//! resume from suspend), so the daemon can re-plan. With nothing due the
//! timer is armed far in the future: still cancelled by a jump, never
//! waking the process.

use std::os::fd::{AsFd, BorrowedFd};

use jiff::Timestamp;
use nix::errno::Errno;
use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};

/// What a readable timer means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    /// The deadline passed.
    Expired,
    /// The wall clock was set; the deadline may not have passed.
    Jumped,
    /// Nothing (a spurious wake-up).
    Nothing,
}

pub struct Clock {
    timer: TimerFd,
}

/// Where the timer sits when nothing is due (far away, but within every
/// platform's `time_t`).
const FAR: i64 = 4_102_444_800; // 2100-01-01

impl Clock {
    pub fn new() -> nix::Result<Clock> {
        let timer = TimerFd::new(
            ClockId::CLOCK_REALTIME,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )?;
        Ok(Clock { timer })
    }

    /// Arms the timer for `deadline` (or far away for `None`).
    pub fn arm(&self, deadline: Option<Timestamp>) -> nix::Result<()> {
        let spec = match deadline {
            Some(t) => {
                // A deadline of exactly zero would disarm the timer.
                let secs = t.as_second().max(1);
                let nanos = if t.as_second() < 1 {
                    0
                } else {
                    t.subsec_nanosecond()
                };
                TimeSpec::new(secs, nanos.into())
            }
            None => TimeSpec::new(FAR, 0),
        };
        self.timer.set(
            Expiration::OneShot(spec),
            TimerSetTimeFlags::TFD_TIMER_ABSTIME | TimerSetTimeFlags::TFD_TIMER_CANCEL_ON_SET,
        )
    }

    /// Reads the timer after `poll` said it is readable.
    pub fn read(&self) -> nix::Result<Wake> {
        let mut buf = [0u8; 8];
        match nix::unistd::read(self.timer.as_fd(), &mut buf) {
            Ok(_) => Ok(Wake::Expired),
            Err(Errno::ECANCELED) => Ok(Wake::Jumped),
            Err(Errno::EAGAIN) => Ok(Wake::Nothing),
            Err(e) => Err(e),
        }
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.timer.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expires_at_an_absolute_deadline() {
        let clock = Clock::new().unwrap();
        clock.arm(None).unwrap();
        assert_eq!(clock.read().unwrap(), Wake::Nothing);
        let deadline = Timestamp::now() + jiff::SignedDuration::from_millis(20);
        clock.arm(Some(deadline)).unwrap();
        let mut fds = [nix::poll::PollFd::new(
            clock.fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(5000u16)).unwrap();
        assert!(Timestamp::now() >= deadline);
        assert_eq!(clock.read().unwrap(), Wake::Expired);
        // A deadline in the past expires at once.
        clock.arm(Some(Timestamp::UNIX_EPOCH)).unwrap();
        nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(5000u16)).unwrap();
        assert_eq!(clock.read().unwrap(), Wake::Expired);
    }
}
