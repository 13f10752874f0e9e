//! The circuit breaker of `qos/circuit-breaker`, with sony/gobreaker's state machine as KrakenD
//! configures it: closed (counts reset every `interval`), open after more than `max_errors`
//! consecutive failures, half-open after `timeout` letting one call through, then closed again
//! on success or open again on failure.

use crate::config::CircuitBreakerConfig;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Closed,
    Open,
    HalfOpen,
}

#[derive(Debug)]
struct Inner {
    state: State,
    generation: u64,
    consecutive_failures: u64,
    half_open_in_flight: u64,
    /// End of the current closed window (None: no windows) or of the open period.
    expiry: Option<Instant>,
}

pub(crate) struct Breaker {
    name: String,
    interval: Duration,
    timeout: Duration,
    max_errors: u64,
    log: bool,
    inner: Mutex<Inner>,
}

/// A permit to call the backend; report the outcome with [`Breaker::record`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Permit {
    generation: u64,
}

impl Breaker {
    pub(crate) fn new(cfg: &CircuitBreakerConfig, default_name: &str) -> Self {
        let now = Instant::now();
        let interval = Duration::from_secs(cfg.interval);
        let inner = Inner {
            state: State::Closed,
            generation: 0,
            consecutive_failures: 0,
            half_open_in_flight: 0,
            expiry: (!interval.is_zero()).then(|| now + interval),
        };
        Breaker {
            name: cfg.name.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| default_name.to_owned()),
            interval,
            timeout: Duration::from_secs(if cfg.timeout == 0 { 60 } else { cfg.timeout }),
            max_errors: cfg.max_errors,
            log: cfg.log_status_change,
            inner: Mutex::new(inner),
        }
    }

    #[cfg(test)]
    pub(crate) fn state(&self) -> State {
        let mut inner = self.lock();
        self.refresh(&mut inner, Instant::now());
        inner.state
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Asks to call the backend. `Err` carries KrakenD's error text.
    pub(crate) fn acquire(&self) -> Result<Permit, &'static str> {
        let now = Instant::now();
        let mut inner = self.lock();
        self.refresh(&mut inner, now);
        match inner.state {
            State::Open => Err("circuit breaker is open"),
            State::HalfOpen if inner.half_open_in_flight >= 1 => Err("too many requests"),
            State::HalfOpen => {
                inner.half_open_in_flight += 1;
                Ok(Permit { generation: inner.generation })
            }
            State::Closed => Ok(Permit { generation: inner.generation }),
        }
    }

    pub(crate) fn record(&self, permit: Permit, success: bool) {
        let now = Instant::now();
        let mut inner = self.lock();
        self.refresh(&mut inner, now);
        if permit.generation != inner.generation {
            return;
        }
        match (inner.state, success) {
            (State::Closed, true) => inner.consecutive_failures = 0,
            (State::Closed, false) => {
                inner.consecutive_failures += 1;
                if inner.consecutive_failures > self.max_errors {
                    self.set_state(&mut inner, State::Open, now);
                }
            }
            (State::HalfOpen, true) => self.set_state(&mut inner, State::Closed, now),
            (State::HalfOpen, false) => self.set_state(&mut inner, State::Open, now),
            (State::Open, _) => {}
        }
    }

    /// Gives a permit back without an outcome (the call was cancelled, not failed).
    pub(crate) fn release(&self, permit: Permit) {
        let mut inner = self.lock();
        if permit.generation == inner.generation && inner.state == State::HalfOpen {
            inner.half_open_in_flight = inner.half_open_in_flight.saturating_sub(1);
        }
    }

    /// Applies the time-driven transitions: a new closed window, or open -> half-open.
    fn refresh(&self, inner: &mut Inner, now: Instant) {
        match inner.state {
            State::Closed => {
                if let Some(exp) = inner.expiry
                    && now >= exp
                {
                    self.new_generation(inner, now);
                }
            }
            State::Open => {
                if inner.expiry.is_some_and(|exp| now >= exp) {
                    self.set_state(inner, State::HalfOpen, now);
                }
            }
            State::HalfOpen => {}
        }
    }

    fn set_state(&self, inner: &mut Inner, state: State, now: Instant) {
        let previous = inner.state;
        inner.state = state;
        self.new_generation(inner, now);
        if self.log {
            tracing::warn!(circuit_breaker = %self.name, from = ?previous, to = ?state, "circuit breaker state change");
        }
    }

    fn new_generation(&self, inner: &mut Inner, now: Instant) {
        inner.generation += 1;
        inner.consecutive_failures = 0;
        inner.half_open_in_flight = 0;
        inner.expiry = match inner.state {
            State::Closed => (!self.interval.is_zero()).then(|| now + self.interval),
            State::Open => Some(now + self.timeout),
            State::HalfOpen => None,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker(interval: u64, timeout: u64, max_errors: u64) -> Breaker {
        let cfg = CircuitBreakerConfig { interval, timeout, max_errors, ..Default::default() };
        Breaker::new(&cfg, "test")
    }

    fn fail(b: &Breaker) {
        let p = b.acquire().expect("closed or half-open");
        b.record(p, false);
    }

    #[tokio::test(start_paused = true)]
    async fn opens_after_more_than_max_errors_consecutive_failures() {
        let b = breaker(60, 10, 1);
        fail(&b);
        assert_eq!(b.state(), State::Closed);
        fail(&b);
        assert_eq!(b.state(), State::Open);
        assert_eq!(b.acquire().unwrap_err(), "circuit breaker is open");
    }

    #[tokio::test(start_paused = true)]
    async fn a_success_resets_the_consecutive_count() {
        let b = breaker(60, 10, 1);
        fail(&b);
        let p = b.acquire().unwrap();
        b.record(p, true);
        fail(&b);
        assert_eq!(b.state(), State::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn half_open_after_timeout_lets_one_call_through_and_recovers() {
        let b = breaker(60, 10, 0);
        fail(&b);
        assert_eq!(b.state(), State::Open);
        tokio::time::advance(Duration::from_secs(9)).await;
        assert!(b.acquire().is_err());
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(b.state(), State::HalfOpen);
        let p = b.acquire().expect("one call in half-open");
        assert_eq!(b.acquire().unwrap_err(), "too many requests");
        b.record(p, true);
        assert_eq!(b.state(), State::Closed);
        assert!(b.acquire().is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_failure_in_half_open_opens_again_for_timeout() {
        let b = breaker(60, 5, 0);
        fail(&b);
        tokio::time::advance(Duration::from_secs(5)).await;
        fail(&b);
        assert_eq!(b.state(), State::Open);
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(b.state(), State::HalfOpen);
    }

    #[tokio::test(start_paused = true)]
    async fn counts_reset_every_interval() {
        let b = breaker(10, 60, 1);
        fail(&b);
        tokio::time::advance(Duration::from_secs(10)).await;
        fail(&b);
        assert_eq!(b.state(), State::Closed, "the first failure belonged to the previous window");
    }

    #[tokio::test(start_paused = true)]
    async fn zero_timeout_means_sixty_seconds() {
        let b = breaker(0, 0, 0);
        fail(&b);
        tokio::time::advance(Duration::from_secs(59)).await;
        assert_eq!(b.state(), State::Open);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(b.state(), State::HalfOpen);
    }
}
