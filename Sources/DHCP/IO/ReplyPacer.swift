/// A token bucket for a listener's replies. Requests come in bursts (a relay flushing its queue,
/// a load generator catching up, a rack powering on) and pxed answers each within microseconds,
/// so its replies would leave in the same bursts, or larger ones when a commit group's ACKs are
/// released together. The receiving relay or client reads with an ordinary socket buffer
/// (Linux's default is 212,992 bytes, a couple of hundred small datagrams) and drops what
/// overflows it. The pacer lets a burst of `burst` replies out at once and the rest at
/// `headroom` times the rate requests have been arriving (never below `minimumRate`), so
/// replies leave as smoothly as the requests came on average, a little faster, never slower.
struct ReplyPacer {
    /// Replies that may leave back to back.
    var burst: Double = 16
    /// The pace never drops below this (replies/s), so a quiet listener answers at once.
    var minimumRate: Double = 4000
    /// How much faster than the requests' average rate replies may leave.
    var headroom: Double = 1.25
    /// Length of one arrival-counting window, seconds.
    var window: Double = 0.05

    private(set) var tokens: Double
    private var refilledAt: Double
    private var windowStart: Double
    private var arrivals = 0.0
    /// Requests per second, smoothed over the windows (the latest window counts at once when
    /// it is higher: a rising load is not made to wait).
    private(set) var arrivalRate = 0.0

    init(now: Double) {
        tokens = burst
        refilledAt = now
        windowStart = now
    }

    /// Replies per second allowed now.
    var rate: Double { max(minimumRate, headroom * arrivalRate) }

    /// One request arrived at `now`.
    mutating func requestArrived(now: Double) {
        arrivals += 1
        let elapsed = now - windowStart
        guard elapsed >= window else { return }
        let latest = arrivals / elapsed
        arrivalRate = max(latest, 0.7 * arrivalRate + 0.3 * latest)
        arrivals = 0
        windowStart = now
    }

    /// Takes one token if there is one.
    mutating func take(now: Double) -> Bool {
        refill(now: now)
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }

    /// When the next token is due (the caller's clock).
    func nextTokenAt(now: Double) -> Double {
        tokens >= 1 ? now : refilledAt + (1 - tokens) / rate
    }

    private mutating func refill(now: Double) {
        guard now > refilledAt else { return }
        tokens = min(burst, tokens + (now - refilledAt) * rate)
        refilledAt = now
    }
}
