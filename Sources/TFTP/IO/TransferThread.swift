import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

// Server transfers run on a thread each, with blocking I/O on a plain socket, not on the event
// loop. In lockstep every block is one datagram in and one out, and through an event loop each
// costs an epoll round, the channel pipeline and an address formatted per read (measured: ~6 us
// of user time per datagram against ~1 us for tftpd-hpa, which forks per transfer). A thread
// blocked in recv() is woken straight by the kernel and answers with one send(): two system
// calls per block. Threads also get their fair share of the CPU next to many clients, as
// tftpd-hpa's processes do. The listener and the ERROR 5 companion sockets stay on SwiftNIO;
// the protocol stays in the pure session state machines, fed exactly as before.

/// Ends a server transfer from outside its thread (evicted when the table is full, server stop).
final class TransferControl: Sendable {
    private struct State {
        var fd: Int32
        var closed = false
    }
    private let state: NIOLockedValueBox<State>
    /// Read once per datagram by the transfer's thread: an atomic, not the lock.
    private let cancelled = Atomic<Bool>(false)

    init(fd: Int32) { state = NIOLockedValueBox(State(fd: fd)) }

    var isCancelled: Bool { cancelled.load(ordering: .acquiring) }

    /// Asks the transfer to end. shutdown() wakes its thread from a blocking receive at once.
    func cancel() {
        cancelled.store(true, ordering: .releasing)
        state.withLockedValue { s in
            if !s.closed { _ = Glibc.shutdown(s.fd, Int32(SHUT_RDWR)) }
        }
    }

    /// Only the transfer's thread calls this. Closing under the lock means cancel() can never
    /// shut down a descriptor number that another socket has reused meanwhile.
    func closeSocket() {
        state.withLockedValue { s in
            guard !s.closed else { return }
            s.closed = true
            Glibc.close(s.fd)
        }
    }
}

/// One server transfer on its own socket (its TID) and thread: feeds datagrams and timeouts to
/// the session and sends what the session returns. No protocol decisions are made here.
/// A struct, run as the thread's own local variable: its state is checked for exclusive access
/// at compile time, not per access at run time as a class's would be.
struct TransferThread: @unchecked Sendable {
    // @unchecked: built on the listener's event loop, then moved to its thread, which alone
    // touches it; `control` (locked and atomic) is the one part shared with other threads.
    let control: TransferControl
    private let fd: Int32
    private let shared: TFTPServer.Shared
    private let peer: SocketAddress
    private let localHost: String
    private let request: TFTPRequest
    private let isRead: Bool
    private var transfer: PreparedTransfer
    private var gso = false
    /// Whether to connect the socket to the client (with the companion beside it).
    private let connect: Bool
    private var connected = false
    private var stray: (any Channel)?
    private var receiveBuffer: ByteBuffer
    private var sendBuffer: ByteBuffer
    /// The SO_RCVTIMEO now set on the socket, in nanoseconds (0: none yet).
    private var receiveTimeout: Int64 = 0
    private var started = NIODeadline.now()
    private var progressed = false
    private var done = false
    private var dallyUntil: NIODeadline?
    /// After a successful upload: the final ACK to repeat if the client resends its last block.
    private var dallyAck: TFTPPacket?
    private var sendErrorLogged = false

    init(fd: Int32, shared: TFTPServer.Shared, peer: SocketAddress, localHost: String, request: TFTPRequest,
         isRead: Bool, transfer: PreparedTransfer, connect: Bool = true) {
        self.fd = fd
        self.connect = connect
        self.control = TransferControl(fd: fd)
        self.shared = shared
        self.peer = peer
        self.localHost = localHost
        self.request = request
        self.isRead = isRead
        self.transfer = transfer
        // A reader receives ACKs only; a writer must fit a whole DATA block (a larger datagram
        // would be cut short and look like the final block).
        let capacity = isRead ? 2048 : max(2048, transfer.parameters.blockSize + 64)
        receiveBuffer = ByteBufferAllocator().buffer(capacity: capacity)
        sendBuffer = ByteBufferAllocator().buffer(capacity: max(2048, transfer.parameters.blockSize + 4))
    }

    /// Opens a transfer socket on the first free port of `ports` (0: any ephemeral port).
    static func openSocket(host: String, ports: [Int]) throws -> Int32 {
        var lastError: Int32 = EADDRINUSE
        for port in ports {
            let address = try SocketAddress(ipAddress: host, port: port)
            let family = address.protocol.rawValue
            let fd = Glibc.socket(family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { throw IOError(errnoCode: errno, reason: "socket") }
            if address.withRawSockaddr({ Glibc.bind(fd, $0, $1) }) == 0 { return fd }
            lastError = errno
            Glibc.close(fd)
            guard lastError == EADDRINUSE else { break }
        }
        throw IOError(errnoCode: lastError, reason: "bind")
    }

    /// Starts the thread. False if the system would not give one.
    func start() -> Bool {
        spawnThread { [initial = self] in
            var transfer = initial
            transfer.run()
        }
    }

    private mutating func run() {
        prepareSocket()
        started = .now()
        perform(transfer.session.start(now: started))
        while true {
            if control.isCancelled {
                // Closed from outside: evicted when the table was full, or the server stopped.
                if !done { finish(.failed("closed by server")) }
                break
            }
            let now = NIODeadline.now()
            let deadline: NIODeadline?
            if done {
                guard let dallyUntil, now < dallyUntil else { break }
                deadline = dallyUntil
            } else {
                deadline = transfer.session.nextDeadline
                if let deadline, now >= deadline {
                    perform(transfer.session.tick(now: now))
                    continue
                }
            }
            guard receive(until: deadline, now: now) else { continue }
            handleDatagram()
        }
        stray?.close(promise: nil)
        control.closeSocket()
    }

    /// Connects the socket to the client, with the ERROR 5 companion beside it, and turns on UDP
    /// GSO for windows. Anything that fails leaves the transfer running unconnected.
    private mutating func prepareSocket() {
        if transfer.gsoSegment > 0, System.supportsUDPSegmentationOffload {
            // With UDP_SEGMENT set, one send() of a window's equal-sized blocks leaves as
            // separate datagrams (only the last may be shorter).
            var segment = CInt(transfer.gsoSegment)
            gso = setsockopt(fd, CInt(IPPROTO_UDP), 103 /* UDP_SEGMENT */, &segment, socklen_t(MemoryLayout<CInt>.size)) == 0
        }
        var one: CInt = 1
        guard connect, setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, socklen_t(MemoryLayout<CInt>.size)) == 0,
              let port = localPort(),
              let stray = try? TransferSocket.bindStray(host: localHost, port: port, on: shared.group.next()).wait()
        else { return }
        if peer.withRawSockaddr({ Glibc.connect(fd, $0, $1) }) == 0 {
            self.stray = stray
            connected = true
        } else {
            stray.close(promise: nil)
        }
    }

    private func localPort() -> Int? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard rc == 0 else { return nil }
        return storage.port
    }

    /// Waits for one datagram from the client until `deadline`. True when one is in
    /// `receiveBuffer`; false on timeout, cancellation or an error (the loop decides what next).
    private mutating func receive(until deadline: NIODeadline?, now: NIODeadline) -> Bool {
        // Without a deadline, wake now and then anyway; cancel() wakes the thread sooner.
        let remaining = deadline.map { ($0 - now).nanoseconds } ?? 1_000_000_000
        setReceiveTimeout(remaining)
        receiveBuffer.clear()
        let fd = self.fd, connected = self.connected
        while true {
            var from = sockaddr_storage()
            var fromLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let n = receiveBuffer.withUnsafeMutableWritableBytes { raw -> Int in
                if connected { return Glibc.recv(fd, raw.baseAddress, raw.count, 0) }
                return withUnsafeMutablePointer(to: &from) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        Glibc.recvfrom(fd, raw.baseAddress, raw.count, 0, $0, &fromLength)
                    }
                }
            }
            if n < 0 {
                if errno == EINTR { continue }
                // EAGAIN: the timeout. ECONNREFUSED and friends: an ICMP error from the client's
                // host; the retransmit timer decides when to give up.
                return false
            }
            if n == 0 && control.isCancelled { return false }
            if !connected && !peer.matches(from) {
                replyUnknownTransferID(to: &from, length: fromLength)
                return false
            }
            receiveBuffer.moveWriterIndex(forwardBy: n)
            return true
        }
    }

    /// Sets SO_RCVTIMEO only when the wanted wait differs: in lockstep every wait is the same
    /// timeout, so this is one system call per transfer, not per block. A receive may end up
    /// to 5 ms after the session's deadline, or early (the loop then simply waits again).
    private mutating func setReceiveTimeout(_ nanoseconds: Int64) {
        let wanted = max(nanoseconds, 1_000_000)
        guard receiveTimeout == 0 || wanted < receiveTimeout - 5_000_000 || wanted > receiveTimeout + 250_000_000 else { return }
        var tv = timeval(tv_sec: Int(wanted / 1_000_000_000), tv_usec: Int(wanted % 1_000_000_000 / 1000))
        if setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size)) == 0 {
            receiveTimeout = wanted
        }
    }

    private mutating func replyUnknownTransferID(to address: inout sockaddr_storage, length: socklen_t) {
        sendBuffer.clear()
        TFTPPacket.unknownTransferID.encode(into: &sendBuffer)
        let fd = self.fd
        _ = sendBuffer.withUnsafeReadableBytes { raw in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.sendto(fd, raw.baseAddress, raw.count, Int32(MSG_NOSIGNAL), $0, length)
                }
            }
        }
    }

    private mutating func handleDatagram() {
        guard let packet = try? TFTPPacket.decode(receiveBuffer) else { return }
        if done {
            if let dallyAck, case .data = packet { send([dallyAck]) }
            return
        }
        if !progressed {
            switch packet {
            case .ack, .data: markProgress()
            default: break
            }
        }
        perform(transfer.session.received(packet, now: .now()))
    }

    private mutating func markProgress() {
        progressed = true
        let id = ObjectIdentifier(control)
        shared.state.withLockedValue { $0.sessions[id]?.progressed = true }
    }

    private mutating func perform(_ action: SessionAction) {
        switch action {
        case .none:
            break
        case .send(let packets):
            send(packets)
        case .finish(var outcome, var packets):
            if outcome == .completed, let upload = transfer.upload {
                // Nothing acknowledged may be lost: make the file durable before the final ACK.
                do {
                    try PathJail.commitUpload(fd: transfer.fd, temp: upload.temp, final: upload.final, overwrite: upload.overwrite)
                    transfer.upload = nil
                    dallyAck = packets.last
                } catch {
                    outcome = .failed("\(error)")
                    packets = [.error(error.code, error.description)]
                }
            }
            send(packets)
            finish(outcome)
        }
    }

    private mutating func send(_ packets: [TFTPPacket]) {
        guard !packets.isEmpty else { return }
        if gso && packets.count > 1 {
            // One send per run of blocks; the kernel takes at most 64 segments and 65,507 bytes
            // per send (EMSGSIZE beyond).
            let perSend = max(1, min(64, 65_507 / max(transfer.gsoSegment, 1)))
            var i = 0
            while i < packets.count {
                let end = min(i + perSend, packets.count)
                sendBuffer.clear()
                for p in packets[i..<end] { p.encode(into: &sendBuffer) }
                transmit()
                i = end
            }
        } else {
            for p in packets {
                sendBuffer.clear()
                p.encode(into: &sendBuffer)
                transmit()
            }
        }
    }

    /// Sends `sendBuffer`. The socket blocks while its send buffer is full, which paces a window.
    /// A failure is logged once per transfer; the retransmit timer still decides the outcome.
    private mutating func transmit() {
        let fd = self.fd, connected = self.connected, peer = self.peer
        let rc = sendBuffer.withUnsafeReadableBytes { raw -> Int in
            if connected { return Glibc.send(fd, raw.baseAddress, raw.count, Int32(MSG_NOSIGNAL)) }
            return peer.withRawSockaddr { Glibc.sendto(fd, raw.baseAddress, raw.count, Int32(MSG_NOSIGNAL), $0, $1) } ?? -1
        }
        if rc < 0 && !sendErrorLogged && !control.isCancelled {
            sendErrorLogged = true
            shared.logger.warning("send to \(peer) failed: \(IOError(errnoCode: errno, reason: "send"))")
        }
    }

    private mutating func finish(_ outcome: TransferOutcome) {
        guard !done else { return }
        done = true
        close(transfer.fd)
        if let upload = transfer.upload { unlink(upload.temp) }
        let stats = transfer.session.stats
        let params = transfer.session.parameters
        let id = ObjectIdentifier(control)
        shared.state.withLockedValue { s in
            s.sessions.removeValue(forKey: id)
            s.stats.active = s.sessions.count
            s.stats.bytesServed += stats.bytes
            if outcome.isSuccess { s.stats.completed += 1 } else { s.stats.failed += 1 }
        }
        let elapsed = (NIODeadline.now() - started).nanoseconds
        let level: Logger.Level = outcome.isSuccess ? .info : .notice
        shared.logger.log(level: level, "\(isRead ? "RRQ" : "WRQ") \(request.filename.debugDescription) client=\(peer.ipAddress ?? "?"):\(peer.port ?? 0) bytes=\(stats.bytes) duration=\(formatSeconds(elapsed))s blksize=\(params.blockSize) windowsize=\(params.windowSize) mode=\(request.mode.rawValue) retransmits=\(stats.retransmits) outcome=\(outcome.logText)")
        if dallyAck != nil && transfer.dally > .zero {
            // Stay a moment so a lost final ACK can be repeated (RFC 1350 "dallying").
            dallyUntil = .now() + transfer.dally
        }
    }
}

/// Runs `body` on a new detached thread with a small stack (a transfer needs little; hundreds
/// may run at once).
func spawnThread(_ body: @escaping @Sendable () -> Void) -> Bool {
    final class Box {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
    var attributes = pthread_attr_t()
    pthread_attr_init(&attributes)
    defer { pthread_attr_destroy(&attributes) }
    pthread_attr_setstacksize(&attributes, 512 << 10)
    pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
    let box = Unmanaged.passRetained(Box(body)).toOpaque()
    var thread = pthread_t()
    let rc = pthread_create(&thread, &attributes, { argument in
        let box = Unmanaged<Box>.fromOpaque(argument!).takeRetainedValue()
        box.body()
        return nil
    }, box)
    if rc != 0 {
        Unmanaged<Box>.fromOpaque(box).release()
        return false
    }
    return true
}

extension SocketAddress {
    /// The address as a `sockaddr` for the socket calls; nil for a Unix-domain address.
    func withRawSockaddr<T>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T? {
        switch self {
        case .v4(let a):
            var raw = a.address
            return withUnsafePointer(to: &raw) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        case .v6(let a):
            var raw = a.address
            return withUnsafePointer(to: &raw) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        default:
            return nil
        }
    }

    /// Whether a datagram's source (from recvfrom) is this address and port.
    func matches(_ storage: sockaddr_storage) -> Bool {
        var storage = storage
        switch self {
        case .v4(let a):
            guard storage.ss_family == sa_family_t(AF_INET) else { return false }
            let other = withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee } }
            return other.sin_port == a.address.sin_port && other.sin_addr.s_addr == a.address.sin_addr.s_addr
        case .v6(let a):
            guard storage.ss_family == sa_family_t(AF_INET6) else { return false }
            var other = withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee } }
            var mine = a.address
            guard other.sin6_port == mine.sin6_port else { return false }
            return memcmp(&other.sin6_addr, &mine.sin6_addr, MemoryLayout<in6_addr>.size) == 0
        default:
            return false
        }
    }
}

extension sockaddr_storage {
    var port: Int? {
        var copy = self
        switch Int32(ss_family) {
        case AF_INET:
            return withUnsafePointer(to: &copy) { $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) } }
        case AF_INET6:
            return withUnsafePointer(to: &copy) { $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) } }
        default:
            return nil
        }
    }
}

extension TransferOutcome {
    var logText: String {
        switch self {
        case .completed: "completed"
        case .completedUnconfirmed: "completed (final ACK not received)"
        case .peerError(let code, let message): "client-error(\(code) \(message.debugDescription))"
        case .timedOut: "timed-out"
        case .failed(let why): "failed(\(why))"
        }
    }
}

/// "1.234" from nanoseconds, without Foundation.
func formatSeconds(_ nanoseconds: Int64) -> String {
    let ms = max(nanoseconds, 0) / 1_000_000
    let frac = String(ms % 1000)
    return "\(ms / 1000)." + String(repeating: "0", count: 3 - frac.count) + frac
}
