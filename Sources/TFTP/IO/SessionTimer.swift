import NIOCore

/// The one retransmit timer of a transfer (server or client side). A later deadline keeps an
/// earlier pending timer: when that fires, the session's tick sees the later deadline and the
/// timer is armed again. A transfer so schedules a timer per timeout period, not per datagram.
struct SessionTimer {
    private var scheduled: Scheduled<Void>?
    private var at: NIODeadline?

    mutating func arm(_ deadline: NIODeadline?, on loop: any EventLoop, _ fire: @escaping @Sendable () -> Void) {
        guard let deadline else { return }
        if let at, at <= deadline { return }
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
