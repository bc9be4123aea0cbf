//! Error classes and the retry schedule shared by every destination.

use serde::{Deserialize, Serialize};

/// At most 3 delivery attempts, then the event is failed and dead-lettered.
pub const MAX_ATTEMPTS: u32 = 3;
/// Rate-limit deferrals do not use up attempts (the platform asked us to wait, nothing failed),
/// but they are bounded so a permanently throttled token cannot loop forever.
pub const MAX_DEFERRALS: u32 = 8;
/// Cloudflare Queues accepts delays up to 12 hours.
pub const MAX_DELAY_SECS: u32 = 12 * 3600;

/// How a platform answered one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "class", rename_all = "snake_case")]
pub enum Outcome {
    Delivered {
        #[serde(skip_serializing_if = "Option::is_none")]
        trace_id: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    /// Worth trying again: 5xx, timeouts, network errors, errors the platform calls transient.
    Retryable {
        reason: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        trace_id: Option<String>,
    },
    /// The platform asked us to slow down.
    RateLimited {
        reason: String,
        retry_after_secs: Option<u32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        trace_id: Option<String>,
    },
    /// Retrying cannot help this request: an invalid parameter, an event the platform refuses.
    Permanent {
        reason: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        trace_id: Option<String>,
    },
    /// The platform refuses the pixel itself (expired or revoked token, unknown pixel, missing
    /// permission): every event to it would fail the same way until its credentials change, so
    /// its deliveries pause instead of failing one by one.
    PixelRefused {
        reason: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        trace_id: Option<String>,
    },
}

impl Outcome {
    pub fn trace_id(&self) -> Option<&str> {
        match self {
            Outcome::Delivered { trace_id, .. }
            | Outcome::Retryable { trace_id, .. }
            | Outcome::RateLimited { trace_id, .. }
            | Outcome::Permanent { trace_id, .. }
            | Outcome::PixelRefused { trace_id, .. } => trace_id.as_deref(),
        }
    }

    pub fn reason(&self) -> Option<&str> {
        match self {
            Outcome::Delivered { .. } => None,
            Outcome::Retryable { reason, .. }
            | Outcome::RateLimited { reason, .. }
            | Outcome::Permanent { reason, .. }
            | Outcome::PixelRefused { reason, .. } => Some(reason),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// First retry delay; each further attempt waits 4× longer (30 s, 2 min by default).
    pub base_delay_secs: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base_delay_secs: 30,
        }
    }
}

/// What to do with a job after an outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextStep {
    Done,
    /// Send again after `delay_secs` as attempt `attempt` (deferrals counted separately).
    Retry {
        delay_secs: u32,
        attempt: u32,
        deferrals: u32,
    },
    /// A batch was refused as a whole; deliver its events one by one so one bad event cannot
    /// sink the others (Meta rejects the whole batch when one event is invalid).
    Split,
    Fail {
        reason: String,
    },
    /// The pixel is refused: park the job, spending nothing, until its credentials change.
    Pause {
        reason: String,
    },
}

/// `attempt` is the attempt that just ran (1-based).
pub fn next_step(
    policy: RetryPolicy,
    outcome: &Outcome,
    attempt: u32,
    deferrals: u32,
    batch_len: usize,
) -> NextStep {
    match outcome {
        Outcome::Delivered { .. } => NextStep::Done,
        Outcome::PixelRefused { reason, .. } => NextStep::Pause {
            reason: reason.clone(),
        },
        Outcome::Permanent { .. } if batch_len > 1 => NextStep::Split,
        Outcome::Permanent { reason, .. } => NextStep::Fail {
            reason: reason.clone(),
        },
        Outcome::Retryable { reason, .. } => {
            if attempt >= MAX_ATTEMPTS {
                NextStep::Fail {
                    reason: format!("{reason} (gave up after {attempt} attempts)"),
                }
            } else {
                NextStep::Retry {
                    delay_secs: backoff_secs(policy, attempt),
                    attempt: attempt + 1,
                    deferrals,
                }
            }
        }
        Outcome::RateLimited {
            reason,
            retry_after_secs,
            ..
        } => {
            if deferrals >= MAX_DEFERRALS {
                NextStep::Fail {
                    reason: format!("{reason} (still rate limited after {deferrals} waits)"),
                }
            } else {
                NextStep::Retry {
                    delay_secs: retry_after_secs.map_or_else(
                        || deferral_wait(policy, deferrals + 1),
                        |w| w.min(MAX_DELAY_SECS),
                    ),
                    // The attempt that was throttled is not spent.
                    attempt,
                    deferrals: deferrals + 1,
                }
            }
        }
    }
}

/// The wait before deferral `n` (1-based) when nobody said how long: twice the retry backoff
/// (60 s, 4 min, ... by default), since throttling or an outage of our own storage lasts longer
/// than a transient error; at least a second, at most the queue's maximum delay.
pub fn deferral_wait(policy: RetryPolicy, n: u32) -> u32 {
    backoff_secs(policy, n)
        .saturating_mul(2)
        .clamp(1, MAX_DELAY_SECS)
}

/// Exponential backoff: base, 4·base, 16·base, ... capped at the queue's maximum delay.
pub fn backoff_secs(policy: RetryPolicy, attempt: u32) -> u32 {
    let factor = 4u64.saturating_pow(attempt.saturating_sub(1));
    (policy.base_delay_secs as u64)
        .saturating_mul(factor)
        .min(MAX_DELAY_SECS as u64) as u32
}

/// `Retry-After` in seconds (HTTP-date forms are rare from these APIs; they fall back to default).
pub fn parse_retry_after(value: Option<&str>) -> Option<u32> {
    value?.trim().parse::<u32>().ok()
}

/// Generic HTTP classification, used by destinations for statuses their body does not explain.
pub fn classify_status(status: u16, retry_after: Option<&str>, reason: String) -> Outcome {
    match status {
        0 | 408 | 500..=599 => Outcome::Retryable {
            reason,
            trace_id: None,
        },
        429 => Outcome::RateLimited {
            reason,
            retry_after_secs: parse_retry_after(retry_after),
            trace_id: None,
        },
        200..=299 => Outcome::Delivered {
            trace_id: None,
            detail: None,
        },
        // The credentials themselves are refused: no event can pass until they change.
        401 | 403 => Outcome::PixelRefused {
            reason,
            trace_id: None,
        },
        _ => Outcome::Permanent {
            reason,
            trace_id: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retryable() -> Outcome {
        Outcome::Retryable {
            reason: "HTTP 500".into(),
            trace_id: None,
        }
    }

    #[test]
    fn transient_errors_retry_with_exponential_backoff_then_fail() {
        let p = RetryPolicy {
            base_delay_secs: 30,
        };
        assert_eq!(
            next_step(p, &retryable(), 1, 0, 1),
            NextStep::Retry {
                delay_secs: 30,
                attempt: 2,
                deferrals: 0
            }
        );
        assert_eq!(
            next_step(p, &retryable(), 2, 0, 1),
            NextStep::Retry {
                delay_secs: 120,
                attempt: 3,
                deferrals: 0
            }
        );
        assert!(matches!(
            next_step(p, &retryable(), 3, 0, 1),
            NextStep::Fail { .. }
        ));
    }

    #[test]
    fn permanent_errors_never_retry_but_batches_split() {
        let perm = Outcome::Permanent {
            reason: "invalid token".into(),
            trace_id: None,
        };
        assert_eq!(
            next_step(RetryPolicy::default(), &perm, 1, 0, 1),
            NextStep::Fail {
                reason: "invalid token".into()
            }
        );
        assert_eq!(
            next_step(RetryPolicy::default(), &perm, 1, 0, 5),
            NextStep::Split
        );
    }

    #[test]
    fn rate_limits_wait_without_spending_attempts() {
        let rl = Outcome::RateLimited {
            reason: "429".into(),
            retry_after_secs: Some(17),
            trace_id: None,
        };
        assert_eq!(
            next_step(RetryPolicy::default(), &rl, 2, 0, 1),
            NextStep::Retry {
                delay_secs: 17,
                attempt: 2,
                deferrals: 1
            }
        );
        let no_hint = Outcome::RateLimited {
            reason: "429".into(),
            retry_after_secs: None,
            trace_id: None,
        };
        match next_step(RetryPolicy::default(), &no_hint, 1, 0, 1) {
            NextStep::Retry { delay_secs, .. } => assert!(delay_secs >= 60),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            next_step(RetryPolicy::default(), &rl, 1, MAX_DEFERRALS, 1),
            NextStep::Fail { .. }
        ));
    }

    #[test]
    fn backoff_is_capped() {
        assert_eq!(
            backoff_secs(
                RetryPolicy {
                    base_delay_secs: 30
                },
                40
            ),
            MAX_DELAY_SECS
        );
        assert_eq!(backoff_secs(RetryPolicy { base_delay_secs: 0 }, 3), 0);
    }

    #[test]
    fn status_classes() {
        assert!(matches!(
            classify_status(503, None, "x".into()),
            Outcome::Retryable { .. }
        ));
        assert!(matches!(
            classify_status(0, None, "timeout".into()),
            Outcome::Retryable { .. }
        ));
        assert!(matches!(
            classify_status(429, Some("12"), "x".into()),
            Outcome::RateLimited {
                retry_after_secs: Some(12),
                ..
            }
        ));
        assert!(matches!(
            classify_status(401, None, "x".into()),
            Outcome::PixelRefused { .. }
        ));
        assert!(matches!(
            classify_status(204, None, "x".into()),
            Outcome::Delivered { .. }
        ));
    }
}
