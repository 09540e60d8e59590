//! Group commit's short wait for company, as PostgreSQL's `commit_delay`.
//!
//! Under load the appender's batches are clocked by its own commits and by
//! the bursts in which the request threads finish their work: many hold
//! only a few entries, and each pays for a signature, a checkpoint row and
//! the WAL pages it touches whatever its size. Waiting a moment before
//! committing lets the entries already on their way share that cost.
//!
//! A batch waits only when recent batches show company (others are
//! appending at once; a lone caller never waits), and only while waiting
//! brings someone: a wait that brings nobody (a few clients, each waiting
//! on its own entry, say) rests the delay, twice as long each time in a
//! row.

use std::time::Duration;

/// The recent mean batch size from which batches wait.
const COMPANY: usize = 4;
/// Batches committed at once after one fruitless wait; doubled for each
/// further one in a row, up to `MAX_REST`.
const REST: u32 = 8;
const MAX_REST: u32 = 1024;

/// Decides, batch by batch, whether to wait before committing.
#[derive(Debug)]
pub(crate) struct CommitDelay {
    delay: Duration,
    /// The recent batches' mean size, in eighths of an append.
    recent_eighths: usize,
    /// Batches still to commit at once.
    resting: u32,
    /// Waits in a row that brought nobody.
    fruitless: u32,
}

impl CommitDelay {
    /// A zero `delay` never waits.
    pub(crate) fn new(delay: Duration) -> Self {
        Self { delay, recent_eighths: 0, resting: 0, fruitless: 0 }
    }

    /// How long a batch of `len` appends, which may grow to `max`, waits
    /// for company before committing; `None` commits it now.
    pub(crate) fn before_commit(&mut self, len: usize, max: usize) -> Option<Duration> {
        if self.delay.is_zero() || len >= max {
            return None;
        }
        if self.resting > 0 {
            self.resting -= 1;
            return None;
        }
        (self.recent_eighths >= COMPANY * 8).then_some(self.delay)
    }

    /// What a wait brought: `joined` more appends.
    pub(crate) fn after_wait(&mut self, joined: usize) {
        if joined == 0 {
            self.resting = REST.saturating_mul(1 << self.fruitless.min(7)).min(MAX_REST);
            self.fruitless += 1;
        } else {
            self.fruitless = 0;
        }
    }

    /// A batch of `len` appends was committed.
    pub(crate) fn committed(&mut self, len: usize) {
        // The mean moves an eighth of the way to each batch's size.
        self.recent_eighths = self.recent_eighths - self.recent_eighths / 8 + len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DELAY: Duration = Duration::from_micros(200);

    /// A delay whose recent batches held `len` appends each.
    fn after_batches_of(len: usize) -> CommitDelay {
        let mut delay = CommitDelay::new(DELAY);
        for _ in 0..64 {
            delay.committed(len);
        }
        delay
    }

    #[test]
    fn a_lone_appender_never_waits() {
        let mut delay = CommitDelay::new(DELAY);
        for _ in 0..1000 {
            assert_eq!(delay.before_commit(1, 256), None);
            delay.committed(1);
        }
        assert_eq!(after_batches_of(COMPANY - 1).before_commit(3, 256), None);
    }

    #[test]
    fn batches_wait_once_recent_ones_show_company() {
        let mut delay = CommitDelay::new(DELAY);
        let mut waited_after = None;
        for batch in 0..64 {
            if delay.before_commit(8, 256).is_some() {
                waited_after = Some(batch);
                break;
            }
            delay.committed(8);
        }
        // The mean of eighths reaches 4 after a few batches of 8, not at once.
        assert!(matches!(waited_after, Some(2..=8)), "{waited_after:?}");
        // Company counts whatever the batch in hand holds.
        assert_eq!(after_batches_of(8).before_commit(1, 256), Some(DELAY));
    }

    #[test]
    fn a_full_batch_or_a_zero_delay_never_waits() {
        assert_eq!(after_batches_of(256).before_commit(256, 256), None);
        let mut off = CommitDelay::new(Duration::ZERO);
        for _ in 0..64 {
            off.committed(64);
        }
        assert_eq!(off.before_commit(64, 256), None);
    }

    #[test]
    fn waits_go_on_while_they_bring_someone() {
        let mut delay = after_batches_of(8);
        for _ in 0..1000 {
            assert_eq!(delay.before_commit(8, 256), Some(DELAY));
            delay.after_wait(1);
            delay.committed(9);
        }
    }

    /// How many batches commit at once before `delay` waits again.
    fn rest_length(delay: &mut CommitDelay) -> u32 {
        let mut rest = 0;
        while delay.before_commit(8, 256).is_none() {
            delay.committed(8);
            rest += 1;
            assert!(rest <= MAX_REST, "the delay never came back");
        }
        rest
    }

    #[test]
    fn fruitless_waits_rest_the_delay_twice_as_long_each_time_in_a_row() {
        let mut delay = after_batches_of(8);
        let mut rests = Vec::new();
        for _ in 0..10 {
            assert!(delay.before_commit(8, 256).is_some());
            delay.after_wait(0);
            delay.committed(8);
            rests.push(rest_length(&mut delay));
        }
        assert_eq!(rests, [8, 16, 32, 64, 128, 256, 512, 1024, 1024, 1024]);
        // One wait that brings someone ends the streak.
        delay.after_wait(3);
        delay.committed(11);
        assert!(delay.before_commit(8, 256).is_some());
        delay.after_wait(0);
        delay.committed(8);
        assert_eq!(rest_length(&mut delay), REST);
    }
}
