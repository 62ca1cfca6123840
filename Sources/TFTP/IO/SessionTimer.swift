import NIOCore

/// The one retransmit timer of a client transfer on its event loop (server transfers block in
/// recv() with a timeout on their own threads instead). A later deadline keeps an
/// earlier pending timer: when that fires, the session's tick sees the later deadline and the
/// timer is armed again. A transfer so schedules a timer per timeout period, not per datagram.
struct SessionTimer {
    private var scheduled: Scheduled<Void>?
    private var at: NIODeadline?

    /// Whether `arm` would schedule anything: callers check first, so that the common case
    /// (an earlier timer is pending) costs no closure allocation per datagram.
    func needsArming(for deadline: NIODeadline?) -> Bool {
        guard let deadline else { return false }
        if let at, at <= deadline { return false }
        return true
    }

    mutating func arm(_ deadline: NIODeadline?, on loop: any EventLoop, _ fire: @escaping @Sendable () -> Void) {
        guard needsArming(for: deadline), let deadline else { return }
        scheduled?.cancel()
        at = deadline
        scheduled = loop.scheduleTask(deadline: deadline, fire)
    }

    /// Called first thing when the timer fires.
    mutating func fired() {
        scheduled = nil
        at = nil
    }

    mutating func cancel() {
        scheduled?.cancel()
        fired()
    }
}
