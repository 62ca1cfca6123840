import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

// The plain-socket and thread plumbing under server transfers. No protocol decisions live here:
// what to send, when to give up and when to close come from the session machines.
//
// Why plain sockets and threads: in lockstep every block is one datagram in and one out, and
// through an event loop each costs an epoll round, the channel pipeline and an address formatted
// per read (measured: ~6 us of user time per datagram against ~1 us for tftpd-hpa, which forks
// per transfer). A thread blocked in recv() is woken straight by the kernel and answers with one
// send(): two system calls per block. Threads also get their fair share of the CPU next to many
// clients, as tftpd-hpa's processes do.

/// One transfer's UDP socket (its TID): bound to a port of its own, then, where it can be,
/// connected to the client with an ERROR 5 companion beside it (see `TransferSocket`).
struct UDPTransferSocket {
    let fd: Int32
    private let peer: SocketAddress
    private(set) var connected = false
    /// UDP GSO segment size when on (0: off).
    private(set) var gsoSegment = 0
    private var companion: (any Channel)?
    /// The SO_RCVTIMEO now set, in nanoseconds (0: none yet).
    private var receiveTimeout: Int64 = 0

    /// Opens a socket on the first free port of `ports` (0: any ephemeral port).
    static func open(host: String, ports: [Int]) throws -> Int32 {
        var lastError: Int32 = EADDRINUSE
        for port in ports {
            let address = try SocketAddress(ipAddress: host, port: port)
            let fd = Glibc.socket(address.protocol.rawValue, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { throw IOError(errnoCode: errno, reason: "socket") }
            if address.withRawSockaddr({ Glibc.bind(fd, $0, $1) }) == 0 { return fd }
            lastError = errno
            Glibc.close(fd)
            guard lastError == EADDRINUSE else { break }
        }
        throw IOError(errnoCode: lastError, reason: "bind")
    }

    init(fd: Int32, peer: SocketAddress) {
        self.fd = fd
        self.peer = peer
    }

    /// Turns UDP GSO on for windows of `segment`-byte datagrams, then connects to the client
    /// with the companion bound beside it. Anything that fails leaves the socket unconnected
    /// (it then answers other TIDs itself) or without GSO.
    mutating func prepare(gsoSegment segment: Int, connect: Bool, localHost: String, companionLoop: any EventLoop) {
        if segment > 0, System.supportsUDPSegmentationOffload {
            // With UDP_SEGMENT set, one send() of a window's equal-sized blocks leaves as
            // separate datagrams (only the last may be shorter).
            var value = CInt(segment)
            if setsockopt(fd, CInt(IPPROTO_UDP), 103 /* UDP_SEGMENT */, &value, socklen_t(MemoryLayout<CInt>.size)) == 0 {
                gsoSegment = segment
            }
        }
        var one: CInt = 1
        guard connect, setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, socklen_t(MemoryLayout<CInt>.size)) == 0,
              let port = localPort(),
              let companion = try? TransferSocket.bindStray(host: localHost, port: port, on: companionLoop).wait()
        else { return }
        if peer.withRawSockaddr({ Glibc.connect(fd, $0, $1) }) == 0 {
            self.companion = companion
            connected = true
        } else {
            companion.close(promise: nil)
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

    /// Waits up to `nanoseconds` for one datagram from the client into `buffer`. True when one
    /// arrived; false on timeout, shutdown or an error (an ICMP error from the client's host,
    /// for example: the retransmit timer decides when to give up). A datagram from anyone else
    /// is answered with ERROR 5 here when the socket is not connected.
    mutating func receive(into buffer: inout ByteBuffer, waiting nanoseconds: Int64) -> Bool {
        setReceiveTimeout(nanoseconds)
        buffer.clear()
        let fd = self.fd, connected = self.connected
        while true {
            var from = sockaddr_storage()
            var fromLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let n = buffer.withUnsafeMutableWritableBytes { raw -> Int in
                if connected { return Glibc.recv(fd, raw.baseAddress, raw.count, 0) }
                return withUnsafeMutablePointer(to: &from) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        Glibc.recvfrom(fd, raw.baseAddress, raw.count, 0, $0, &fromLength)
                    }
                }
            }
            if n < 0 {
                if errno == EINTR { continue }
                return false
            }
            if !connected && !peer.matches(from) {
                replyUnknownTransferID(to: &from, length: fromLength)
                return false
            }
            buffer.moveWriterIndex(forwardBy: n)
            // A zero-length read is how shutdown() (cancellation) wakes us; a real empty
            // datagram is not a TFTP packet either way.
            return n > 0
        }
    }

    /// Sets SO_RCVTIMEO only when the wanted wait differs: in lockstep every wait is the same
    /// timeout, so this is one system call per transfer, not per block. A receive may end up
    /// to 5 ms after the session's deadline, or early (the caller then simply waits again).
    private mutating func setReceiveTimeout(_ nanoseconds: Int64) {
        let wanted = max(nanoseconds, 1_000_000)
        guard receiveTimeout == 0 || wanted < receiveTimeout - 5_000_000 || wanted > receiveTimeout + 250_000_000 else { return }
        var tv = timeval(tv_sec: Int(wanted / 1_000_000_000), tv_usec: Int(wanted % 1_000_000_000 / 1000))
        if setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size)) == 0 {
            receiveTimeout = wanted
        }
    }

    private func replyUnknownTransferID(to address: inout sockaddr_storage, length: socklen_t) {
        var packet = ByteBufferAllocator().buffer(capacity: 32)
        TFTPPacket.unknownTransferID.encode(into: &packet)
        let fd = self.fd
        _ = packet.withUnsafeReadableBytes { raw in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.sendto(fd, raw.baseAddress, raw.count, Int32(MSG_NOSIGNAL), $0, length)
                }
            }
        }
    }

    /// Sends `buffer` as one datagram (or, with GSO on, as the run of datagrams it holds). The
    /// socket blocks while its send buffer is full, which paces a window. The errno on failure.
    func send(_ buffer: ByteBuffer) -> Int32? {
        let fd = self.fd, connected = self.connected, peer = self.peer
        let rc = buffer.withUnsafeReadableBytes { raw -> Int in
            if connected { return Glibc.send(fd, raw.baseAddress, raw.count, Int32(MSG_NOSIGNAL)) }
            return peer.withRawSockaddr { Glibc.sendto(fd, raw.baseAddress, raw.count, Int32(MSG_NOSIGNAL), $0, $1) } ?? -1
        }
        return rc < 0 ? errno : nil
    }

    /// Closes the companion; the socket itself is closed through its `TransferControl`.
    func closeCompanion() {
        companion?.close(promise: nil)
    }
}

/// Ends a transfer from outside its thread (evicted when the table is full, server stop).
final class TransferControl: Sendable {
    private struct State {
        var fd: Int32
        var closed = false
    }
    private let state: NIOLockedValueBox<State>
    /// Read once per datagram by the transfer's thread: an atomic, not the lock.
    private let cancelled = Atomic<Bool>(false)
    /// Bytes moved so far, stored by the transfer's thread as it goes (for `pxed status`).
    private let progressBytes = Atomic<Int>(0)

    init(fd: Int32) { state = NIOLockedValueBox(State(fd: fd)) }

    var bytesSoFar: Int { progressBytes.load(ordering: .relaxed) }
    func progressed(to bytes: Int) { progressBytes.store(bytes, ordering: .relaxed) }

    var isCancelled: Bool { cancelled.load(ordering: .acquiring) }

    /// Asks the transfer to end. shutdown() wakes its thread from a blocking receive at once.
    func cancel() {
        cancelled.store(true, ordering: .releasing)
        state.withLockedValue { s in
            if !s.closed { _ = Glibc.shutdown(s.fd, Int32(SHUT_RDWR)) }
        }
    }

    /// Closing under the lock means cancel() can never shut down a descriptor number that
    /// another socket has reused meanwhile.
    func closeSocket() {
        state.withLockedValue { s in
            guard !s.closed else { return }
            s.closed = true
            Glibc.close(s.fd)
        }
    }
}

/// Runs `body` on a new detached thread with a small stack (a transfer needs little; hundreds
/// may run at once). False if the system would not give a thread.
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
