import Logging
import NIOCore
import PXEConfig
import ServiceLifecycle
import UnixSignals
#if canImport(Glibc)
import Glibc
#endif

/// The whole daemon: the supervisor, SIGHUP reloads and SIGUSR1 status under one ServiceGroup.
/// SIGTERM/SIGINT stop accepting, let transfers finish for a short grace, then exit.
public enum Daemon {
    /// Call first thing in main: until UnixSignalsSequence installs its handler, a SIGHUP's
    /// default action would kill the process.
    public static func ignoreSignalsEarly() {
        signal(SIGHUP, SIG_IGN)
        signal(SIGUSR1, SIG_IGN)
        signal(SIGPIPE, SIG_IGN)
    }

    public static func run(configuration: PXEConfiguration, configPath: String?, logger: Logger) async throws {
        ignoreSignalsEarly()
        keepFreedMemoryForReloads()
        raiseOpenFileLimit()
        let supervisor = Supervisor(configuration: configuration, configPath: configPath, logger: logger)
        do {
            try await supervisor.start()
        } catch {
            logger.critical("cannot start: \(error)")
            throw error
        }
        // `pxed status` talks to this; serving goes on without it (a warning says why).
        var control: ControlSocketServer?
        do {
            control = try await ControlSocketServer.start(path: configuration.controlSocket, supervisor: supervisor, logger: logger)
        } catch {
            logger.warning("control socket \(configuration.controlSocket): \(error); pxed status will not reach this daemon")
        }
        SystemdNotifier.notify("READY=1\nSTATUS=serving")
        let services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: EngineService(supervisor: supervisor, control: control)),
            .init(service: ReloadService(supervisor: supervisor, logger: logger)),
            .init(service: StatusService(supervisor: supervisor, logger: logger)),
        ]
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint],
                                                      logger: logger))
        try await group.run()
    }
}

extension Daemon {
    /// Each TFTP transfer holds two sockets and a file, so the usual soft limit of 1,024
    /// descriptors would cap a server below its default 500 sessions. Raise the soft limit to
    /// the hard one (systemd's default hard limit is 524,288), up to 65,536.
    public static func raiseOpenFileLimit() {
        #if canImport(Glibc)
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
        let wanted = min(limit.rlim_max, 65_536)
        guard limit.rlim_cur < wanted else { return }
        limit.rlim_cur = wanted
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        #endif
    }

    /// A reload builds the new configuration while the old one is still alive, then frees the old
    /// one. By default glibc hands the freed top of the heap back to the kernel, so every reload
    /// page-faults it in again (about a tenth of the parse time of a 10,000-host file). Keep up
    /// to 64 MiB of freed memory for the next reload instead.
    static func keepFreedMemoryForReloads() {
        #if canImport(Glibc)
        _ = pxed_mallopt(-1 /* M_TRIM_THRESHOLD */, 64 << 20)
        _ = pxed_mallopt(-3 /* M_MMAP_THRESHOLD */, 16 << 20)
        #endif
    }
}

#if canImport(Glibc)
// <malloc.h> is not part of Swift's Glibc module; mallopt(3) takes and returns C ints.
@_silgen_name("mallopt")
private func pxed_mallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif

/// Holds the engines until shutdown, then drains them.
struct EngineService: Service {
    let supervisor: Supervisor
    let control: ControlSocketServer?
    func run() async throws {
        try? await gracefulShutdown()
        SystemdNotifier.notify("STOPPING=1")
        await control?.stop()
        await supervisor.stop(grace: .seconds(5))
    }
}

struct ReloadService: Service {
    let supervisor: Supervisor
    let logger: Logger
    func run() async throws {
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            SystemdNotifier.notify("RELOADING=1\nMONOTONIC_USEC=\(SystemdNotifier.monotonicMicroseconds())")
            logger.info("SIGHUP: reloading")
            await supervisor.reload()
            SystemdNotifier.notify("READY=1")
        }
    }
}

struct StatusService: Service {
    let supervisor: Supervisor
    let logger: Logger
    func run() async throws {
        for await _ in await UnixSignalsSequence(trapping: .sigusr1).cancelOnGracefulShutdown() {
            for line in await supervisor.statusLines() { logger.notice("status: \(line)") }
        }
    }
}

/// sd_notify without libsystemd: one datagram to $NOTIFY_SOCKET.
public enum SystemdNotifier {
    public static func notify(_ state: String) {
        guard let path = getenv("NOTIFY_SOCKET").map({ String(cString: $0) }), !path.isEmpty else { return }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 }   // abstract namespace
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { return }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count)
        var message = state
        message.withUTF8 { msg in
            withUnsafePointer(to: &addr) { ptr in
                ptr.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                    _ = sendto(fd, msg.baseAddress, msg.count, 0, sa, length)
                }
            }
        }
    }

    static func monotonicMicroseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec) / 1000
    }
}
