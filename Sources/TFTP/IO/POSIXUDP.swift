import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

// The plain-socket plumbing under server transfers. No protocol decisions live here: what to
// send, when to give up and when to close come from the session machines.
//
// Why plain sockets rather than channels: in lockstep every block is one datagram in and one out,
// and through an event loop's channel pipeline each costs a pipeline pass and an address
// formatted per read (measured: ~6 us of user time per datagram against ~1 us for tftpd-hpa,
// which forks per transfer). Here a block is one recv() and one send() on a socket connected to
// the client, run by a `TransferRunner` worker that serves many transfers through one epoll set.

// Why a connected socket with a companion: connecting the transfer socket to its peer's TID lets
// the kernel route and demultiplex the transfer once instead of per datagram (measured: a third
// less CPU per lockstep block). A connected socket no longer sees datagrams from anyone else, so
// a second socket on the same port (SO_REUSEPORT, which the kernel only shares between sockets of
// one user) takes those and answers ERROR 5, as RFC 1350 asks. The transfer socket is bound
// without SO_REUSEPORT, so its port is unique when chosen; the flag is set only afterwards, for
// the companion. If any step fails the transfer simply runs unconnected and answers other TIDs
// itself.

/// One transfer's UDP socket (its TID): bound to a port of its own, then, where it can be,
/// connected to the peer with an ERROR 5 companion socket beside it (see above).
/// The socket stays blocking for sends (a full send buffer paces a window) and is read with
/// MSG_DONTWAIT once epoll says it is readable.
struct UDPTransferSocket {
    let fd: Int32
    /// The other end's TID (for a client, the server's listener until its first reply).
    private(set) var peer: SocketAddress
    private(set) var connected = false
    /// UDP GSO segment size when on (0: off).
    private(set) var gsoSegment = 0
    /// UDP GRO is on: a run of datagrams may arrive as one buffer (see `receiveRun`).
    private(set) var groEnabled = false
    /// The companion's descriptor (-1: none); its runner polls it beside `fd`.
    private(set) var companionFD: Int32 = -1

    /// Opens a socket on the first free port of `ports` (0: any ephemeral port).
    /// (A client passes [0] and the wildcard host.)
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
    mutating func prepare(gsoSegment segment: Int, connect: Bool, localHost: String) {
        enableGSO(segment: segment)
        if connect { self.connect(to: peer, localHost: localHost) }
    }

    mutating func enableGSO(segment: Int) {
        if segment > 0, System.supportsUDPSegmentationOffload {
            // With UDP_SEGMENT set, one send() of a window's equal-sized blocks leaves as
            // separate datagrams (only the last may be shorter).
            var value = CInt(segment)
            if setsockopt(fd, CInt(IPPROTO_UDP), 103 /* UDP_SEGMENT */, &value, socklen_t(MemoryLayout<CInt>.size)) == 0 {
                gsoSegment = segment
            }
        }
    }

    /// Connects to `peer` (from now on the transfer's TID) with the companion bound beside it;
    /// if a step fails the socket stays unconnected and answers other TIDs itself.
    mutating func connect(to peer: SocketAddress, localHost: String) {
        self.peer = peer
        guard !connected, setReusePort(fd), let port = localPort(),
              let companion = try? UDPTransferSocket.openCompanion(host: localHost, port: port)
        else { return }
        if peer.withRawSockaddr({ Glibc.connect(fd, $0, $1) }) == 0 {
            companionFD = companion
            connected = true
        } else {
            Glibc.close(companion)
        }
    }

    /// A socket bound with SO_REUSEPORT to the transfer's own address and port: once the
    /// transfer socket is connected, the kernel hands it only what comes from other TIDs.
    private static func openCompanion(host: String, port: Int) throws -> Int32 {
        let address = try SocketAddress(ipAddress: host, port: port)
        let fd = Glibc.socket(address.protocol.rawValue, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw IOError(errnoCode: errno, reason: "socket") }
        guard setReusePort(fd), address.withRawSockaddr({ Glibc.bind(fd, $0, $1) }) == 0 else {
            let error = errno
            Glibc.close(fd)
            throw IOError(errnoCode: error, reason: "bind")
        }
        return fd
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

    /// Reads one waiting datagram from the client into `buffer` without blocking. True when
    /// one was read; false when none was waiting, on shutdown (cancellation) or an error (an
    /// ICMP error from the client's host, for example: the retransmit timer decides when to
    /// give up). A datagram from anyone else is answered with ERROR 5 here when the socket is
    /// not connected.
    func receive(into buffer: inout ByteBuffer) -> Bool {
        buffer.clear()
        let fd = self.fd, connected = self.connected
        while true {
            var from = sockaddr_storage()
            var fromLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let n = buffer.withUnsafeMutableWritableBytes { raw -> Int in
                if connected { return Glibc.recv(fd, raw.baseAddress, raw.count, Int32(MSG_DONTWAIT)) }
                return withUnsafeMutablePointer(to: &from) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        Glibc.recvfrom(fd, raw.baseAddress, raw.count, Int32(MSG_DONTWAIT), $0, &fromLength)
                    }
                }
            }
            if n < 0 {
                if errno == EINTR { continue }
                return false
            }
            if !connected && !peer.matches(from) {
                UDPTransferSocket.replyUnknownTransferID(fd: fd, to: &from, length: fromLength)
                return false
            }
            buffer.moveWriterIndex(forwardBy: n)
            // A zero-length read is what shutdown() (cancellation) leaves; a real empty
            // datagram is not a TFTP packet either way.
            return n > 0
        }
    }

    /// Turns UDP GRO on, for a receiver of windows: a run of equal-sized datagrams (a window the
    /// sender passed to the kernel in one GSO send, kept whole on loopback; or datagrams a NIC
    /// coalesced) then arrives as one buffer with its segment size, read with one recvmsg
    /// instead of one recv per datagram. False where the kernel has no UDP_GRO (before 5.0).
    mutating func enableGRO() {
        var one = CInt(1)
        groEnabled = setsockopt(fd, CInt(IPPROTO_UDP), 104 /* UDP_GRO */, &one, socklen_t(MemoryLayout<CInt>.size)) == 0
    }

    /// On a connected socket: reads one waiting datagram, or with GRO on a run of them, into
    /// `buffer`, without blocking. Returns the size of each datagram in the run (the last may be
    /// shorter); nil when nothing was waiting, on shutdown (cancellation) or an error.
    func receiveRun(into buffer: inout ByteBuffer) -> Int? {
        buffer.clear()
        // Room for one cmsghdr (16 bytes) and its int: UDP_GRO's segment size.
        var control = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        var controlLength = 0
        let fd = self.fd
        let n = buffer.withUnsafeMutableWritableBytes { raw -> Int in
            var vector = iovec(iov_base: raw.baseAddress, iov_len: raw.count)
            return withUnsafeMutablePointer(to: &vector) { vectorPointer in
                withUnsafeMutableBytes(of: &control) { controlBytes in
                    var message = msghdr()
                    message.msg_iov = vectorPointer
                    message.msg_iovlen = 1
                    message.msg_control = controlBytes.baseAddress
                    message.msg_controllen = controlBytes.count
                    while true {
                        let n = Glibc.recvmsg(fd, &message, Int32(MSG_DONTWAIT))
                        if n < 0 && errno == EINTR { continue }
                        controlLength = Int(message.msg_controllen)
                        return n
                    }
                }
            }
        }
        guard n > 0 else { return nil }
        buffer.moveWriterIndex(forwardBy: n)
        // struct cmsghdr { size_t cmsg_len; int cmsg_level; int cmsg_type; } then the data.
        let segment = withUnsafeBytes(of: &control) { raw -> Int? in
            guard controlLength >= 20,
                  raw.load(fromByteOffset: 8, as: Int32.self) == Int32(IPPROTO_UDP),
                  raw.load(fromByteOffset: 12, as: Int32.self) == 104 /* UDP_GRO */ else { return nil }
            return Int(raw.load(fromByteOffset: 16, as: Int32.self))
        }
        return segment.flatMap { $0 > 0 ? $0 : nil } ?? n
    }

    /// A client before the server's first reply: reads one waiting datagram and returns its
    /// source when it comes from the server's host (any port: the reply comes from the
    /// server's new TID); anything else is dropped. Nil when nothing (useful) was waiting.
    func receiveFirstReply(into buffer: inout ByteBuffer) -> SocketAddress? {
        buffer.clear()
        var from = sockaddr_storage()
        var fromLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let fd = self.fd
        let n = buffer.withUnsafeMutableWritableBytes { raw in
            withUnsafeMutablePointer(to: &from) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.recvfrom(fd, raw.baseAddress, raw.count, Int32(MSG_DONTWAIT), $0, &fromLength)
                }
            }
        }
        guard n > 0, let source = SocketAddress(from), source.ipAddress == peer.ipAddress else { return nil }
        buffer.moveWriterIndex(forwardBy: n)
        return source
    }

    /// Answers one datagram waiting on the companion with ERROR 5 (RFC 1350: the transfer
    /// carries on untouched).
    func answerStray() {
        guard companionFD >= 0 else { return }
        var scratch = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        var from = sockaddr_storage()
        var fromLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let n = withUnsafeMutableBytes(of: &scratch) { raw in
            withUnsafeMutablePointer(to: &from) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.recvfrom(companionFD, raw.baseAddress, raw.count, Int32(MSG_DONTWAIT), $0, &fromLength)
                }
            }
        }
        guard n >= 0 else { return }
        UDPTransferSocket.replyUnknownTransferID(fd: companionFD, to: &from, length: fromLength)
    }

    private static func replyUnknownTransferID(fd: Int32, to address: inout sockaddr_storage, length: socklen_t) {
        // "\0\5\0\5unknown transfer ID\0", encoded once.
        unknownTransferIDDatagram.withUnsafeBytes { raw in
            _ = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.sendto(fd, raw.baseAddress, raw.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT), $0, length)
                }
            }
        }
    }

    private static let unknownTransferIDDatagram: [UInt8] = {
        var buffer = ByteBufferAllocator().buffer(capacity: 32)
        TFTPPacket.unknownTransferID.encode(into: &buffer)
        return Array(buffer.readableBytesView)
    }()

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
    mutating func closeCompanion() {
        guard companionFD >= 0 else { return }
        Glibc.close(companionFD)
        companionFD = -1
    }
}

private func setReusePort(_ fd: Int32) -> Bool {
    var one: CInt = 1
    return setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, socklen_t(MemoryLayout<CInt>.size)) == 0
}

/// Ends a transfer from outside its runner (evicted when the table is full, server stop).
final class TransferControl: Sendable {
    private struct State {
        var fd: Int32
        var closed = false
    }
    private let state: NIOLockedValueBox<State>
    /// Read once per readiness event by the transfer's runner: an atomic, not the lock.
    private let cancelled = Atomic<Bool>(false)
    /// Bytes moved so far, stored by the transfer's runner as it goes (for `pxed status`).
    private let progressBytes = Atomic<Int>(0)

    /// The descriptor, for its owner to use until it calls `closeSocket()`.
    let fd: Int32

    init(fd: Int32) {
        self.fd = fd
        state = NIOLockedValueBox(State(fd: fd))
    }

    var bytesSoFar: Int { progressBytes.load(ordering: .relaxed) }
    func progressed(to bytes: Int) { progressBytes.store(bytes, ordering: .relaxed) }

    var isCancelled: Bool { cancelled.load(ordering: .acquiring) }

    /// Asks the transfer to end. shutdown() makes the socket readable (EPOLLHUP, even for an
    /// unconnected UDP socket), so its runner sees the request at once.
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

extension SocketAddress {
    /// The address a datagram came from (recvfrom); nil for other families.
    init?(_ storage: sockaddr_storage) {
        var copy = storage
        switch Int32(storage.ss_family) {
        case AF_INET:
            self = withUnsafePointer(to: &copy) { $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { SocketAddress($0.pointee) } }
        case AF_INET6:
            self = withUnsafePointer(to: &copy) { $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { SocketAddress($0.pointee) } }
        default:
            return nil
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

extension TFTPPacket {
    /// RFC 1350: a datagram from a TID other than the transfer's gets ERROR 5, and the transfer
    /// carries on untouched.
    static let unknownTransferID = TFTPPacket.error(.unknownTransferID, "unknown transfer ID")
}
