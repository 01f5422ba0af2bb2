//! Instant arithmetic that cannot panic, whatever a server or a configuration says.
//!
//! `Instant + Duration` panics on overflow, and a lifetime or a cool-down can be as large
//! as `Duration::MAX`. Every instant the runtime computes goes through here.

use std::time::Duration;

use tokio::time::Instant;

/// The longest span ever added to an instant: about a century, far beyond any token
/// lifetime or policy value, and far below what a monotonic clock can hold.
const FAR: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// `instant + span`, with `span` clamped to about a century.
pub(crate) fn after(instant: Instant, span: Duration) -> Instant {
    // With the clamp the addition cannot overflow on a real monotonic clock; should it,
    // the instant itself is the answer that errs on the side of refreshing.
    instant.checked_add(span.min(FAR)).unwrap_or(instant)
}

/// `instant - span`, or `instant` when that would go before the clock's origin.
pub(crate) fn before(instant: Instant, span: Duration) -> Instant {
    instant.checked_sub(span).unwrap_or(instant)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_spans_saturate_instead_of_panicking() {
        let now = Instant::now();
        assert_eq!(after(now, Duration::MAX), after(now, FAR));
        assert!(after(now, Duration::MAX) > now);
        assert_eq!(
            after(now, Duration::from_secs(5)),
            now + Duration::from_secs(5)
        );
        assert_eq!(before(now, Duration::MAX), now);
        assert_eq!(before(now, Duration::ZERO), now);
    }
}
