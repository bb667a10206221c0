//! What one client may spend: rate limits per client address and per account or mail address
//! (governor's GCRA: a burst, then a steady rate; answered 429 with `Retry-After`), and slots for
//! the costly work any visitor can start (uploads, password hashes; answered 503 with
//! `Retry-After` when all are taken). Limits are per server process; each node of a cluster
//! applies its own.

use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use app::error::AppError;
use app::server_fn::ClientIp;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::LimitSettings;
use crate::platform::error::ApiError;

/// Keys a limiter remembers before it forgets the ones whose allowance is whole again, so a flood
/// of new addresses cannot grow its memory without bound.
const MAX_TRACKED_KEYS: usize = 100_000;

/// How long a request waits for a free slot before the answer is "busy": long enough for a queue
/// of visitors to take turns on a saturated machine (the load test's 50 uploading visitors wait
/// seconds, not the 503 a 2-second wait gave a third of them), short of a client's patience.
const SLOT_WAIT: Duration = Duration::from_secs(30);
/// Requests waiting for slots of one kind, per slot, before the next is "busy" at once: a waiting
/// request holds only its connection (its body is not read yet), and this bounds those.
const WAITING_PER_SLOT: usize = 8;

struct Keyed<K: Hash + Eq + Clone> {
    limiter: DefaultKeyedRateLimiter<K>,
    message: &'static str,
}

impl<K: Hash + Eq + Clone> Keyed<K> {
    fn new(quota: Quota, message: &'static str) -> Self {
        Self { limiter: RateLimiter::keyed(quota), message }
    }

    fn check(&self, key: &K) -> Result<(), AppError> {
        if self.limiter.len() > MAX_TRACKED_KEYS {
            self.limiter.retain_recent();
        }
        self.limiter.check_key(key).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            AppError::TooManyRequests {
                message: self.message.to_string(),
                retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
            }
        })
    }
}

fn per_minute(count: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(count).unwrap_or(NonZeroU32::MIN))
}

fn per_hour(count: u32) -> Quota {
    Quota::per_hour(NonZeroU32::new(count).unwrap_or(NonZeroU32::MIN))
}

/// The limits and slots of one server process.
pub struct RateLimits {
    sign_in_ip: Keyed<IpAddr>,
    sign_in_account: Keyed<String>,
    mail_ip: Keyed<IpAddr>,
    mail_address: Keyed<String>,
    /// AI tools, generation and batches started from one address: each spends server time or
    /// an image service's credits, and a new guest workspace is one cookie away.
    jobs_ip: Keyed<IpAddr>,
    uploads: Slots,
    password_hashes: Slots,
    trust_forwarded_for: bool,
}

const TOO_MANY_SIGN_INS: &str = "Too many sign-in attempts. Wait a little and try again.";

impl RateLimits {
    pub fn new(limits: &LimitSettings) -> Self {
        Self {
            sign_in_ip: Keyed::new(per_minute(limits.sign_ins_per_minute_per_ip), TOO_MANY_SIGN_INS),
            sign_in_account: Keyed::new(per_minute(limits.sign_ins_per_minute_per_account), TOO_MANY_SIGN_INS),
            mail_ip: Keyed::new(
                per_hour(limits.mails_per_hour_per_ip),
                "Too many requests for mail from here. Try again later.",
            ),
            mail_address: Keyed::new(per_hour(limits.mails_per_hour_per_address), "Too many mails to this address."),
            jobs_ip: Keyed::new(
                per_hour(limits.jobs_per_hour_per_ip),
                "Too much work asked from here this hour. Wait a little and try again.",
            ),
            uploads: Slots::new(limits.concurrent_uploads),
            password_hashes: Slots::new(limits.concurrent_password_hashes),
            trust_forwarded_for: limits.trust_forwarded_for,
        }
    }

    /// A sign-in attempt to `account`, taken before the password is hashed, so parallel guesses
    /// are counted as they arrive.
    pub fn sign_in_to(&self, account: &str) -> Result<(), AppError> {
        self.sign_in_account.check(&account.to_string())
    }

    /// Whether one more mail may go to `address` this hour; when not, none is sent (the page
    /// answers the same either way, so it reveals nothing about the address).
    pub fn mail_to(&self, address: &str) -> bool {
        self.mail_address.check(&address.to_string()).is_ok()
    }

    /// A slot for one upload, waited for in a bounded queue.
    pub async fn upload_slot(&self) -> Result<OwnedSemaphorePermit, AppError> {
        self.uploads.take(SLOT_WAIT).await
    }

    /// A slot for one password hash (Argon2 takes 19 MiB and tens of milliseconds of a core).
    pub async fn password_slot(&self) -> Result<OwnedSemaphorePermit, AppError> {
        self.password_hashes.take(SLOT_WAIT).await
    }

    /// The client's address: the peer's, or the last `X-Forwarded-For` hop when trusted.
    pub fn client_ip(&self, request: &Request) -> IpAddr {
        let forwarded = self
            .trust_forwarded_for
            .then(|| request.headers().get("x-forwarded-for")?.to_str().ok()?.rsplit(',').next()?.trim().parse().ok())
            .flatten();
        forwarded
            .or_else(|| request.extensions().get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip()))
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    }
}

/// A few slots for one kind of heavy work, and a bounded queue of requests waiting for them.
#[derive(Debug)]
struct Slots {
    free: Arc<Semaphore>,
    waiting: AtomicUsize,
    most_waiting: usize,
}

impl Slots {
    fn new(slots: usize) -> Self {
        let slots = slots.max(1);
        Self {
            free: Arc::new(Semaphore::new(slots)),
            waiting: AtomicUsize::new(0),
            most_waiting: slots * WAITING_PER_SLOT,
        }
    }

    /// A slot at once, or after waiting in line up to `wait`; "busy" when the line is full or the
    /// wait is over.
    async fn take(&self, wait: Duration) -> Result<OwnedSemaphorePermit, AppError> {
        if let Ok(permit) = self.free.clone().try_acquire_owned() {
            return Ok(permit);
        }
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.most_waiting {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(AppError::Busy { retry_after_secs: 5 });
        }
        let permit = tokio::time::timeout(wait, self.free.clone().acquire_owned()).await;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        match permit {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(AppError::Busy { retry_after_secs: 5 }),
        }
    }
}

/// Records the client's address for the services, and applies the per-address limits of the
/// endpoints that sign in or send mail before anything else runs.
pub async fn per_client(State(limits): State<Arc<RateLimits>>, mut request: Request, next: Next) -> Response {
    let ip = limits.client_ip(&request);
    request.extensions_mut().insert(ClientIp(ip));
    let path = request.uri().path();
    let check = match path {
        "/api/auth/signin" | "/api/auth/signin-code" => limits.sign_in_ip.check(&ip),
        "/api/auth/signup" | "/api/auth/reset-request" | "/api/account/email" => limits.mail_ip.check(&ip),
        "/api/ai/start" | "/api/generate/start" | "/api/batch/run" => limits.jobs_ip.check(&ip),
        _ => Ok(()),
    };
    match check {
        Ok(()) => next.run(request).await,
        Err(error) => {
            tracing::info!(%ip, path, "rate limited");
            ApiError(error).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_rest_wait_with_a_retry_time() {
        let limiter = Keyed::new(per_minute(3), "slow down");
        for _ in 0..3 {
            assert!(limiter.check(&"ada".to_string()).is_ok());
        }
        match limiter.check(&"ada".to_string()) {
            Err(AppError::TooManyRequests { retry_after_secs, message }) => {
                assert!((1..=20).contains(&retry_after_secs), "{retry_after_secs}");
                assert_eq!(message, "slow down");
            }
            other => panic!("{other:?}"),
        }
        assert!(limiter.check(&"grace".to_string()).is_ok(), "keys are separate");
    }

    #[tokio::test]
    async fn slots_queue_their_waiters_up_to_a_bound_then_answer_busy() {
        let slots = Arc::new(Slots::new(1));
        let held = slots.take(Duration::from_secs(1)).await.expect("a free slot at once");
        // A waiter gets the slot once it is given back.
        let waiter = tokio::spawn({
            let slots = slots.clone();
            async move { slots.take(Duration::from_secs(5)).await.map(drop) }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(held);
        assert!(waiter.await.unwrap().is_ok(), "the waiter took the freed slot");

        // With the slot held, the line fills up to its bound; the next is busy at once.
        let held = slots.take(Duration::from_secs(1)).await.expect("free again");
        let line: Vec<_> = (0..WAITING_PER_SLOT)
            .map(|_| {
                let slots = slots.clone();
                tokio::spawn(async move { slots.take(Duration::from_millis(300)).await.map(drop) })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let started = std::time::Instant::now();
        assert!(matches!(slots.take(Duration::from_secs(5)).await, Err(AppError::Busy { .. })));
        assert!(started.elapsed() < Duration::from_millis(100), "a full line answers at once");
        // Those in line give up after their wait, busy, and leave the line empty.
        for waiter in line {
            assert!(matches!(waiter.await.unwrap(), Err(AppError::Busy { .. })));
        }
        assert_eq!(slots.waiting.load(Ordering::SeqCst), 0);
        drop(held);
    }
}
