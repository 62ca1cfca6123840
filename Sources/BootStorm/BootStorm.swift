import DHCP
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PXEConfig
import TFTP
#if canImport(Glibc)
import Glibc
#endif

/// What a storm does: N simulated machines power on at once, each does a full DORA through the
/// relay, downloads the boot file it was given and then the kernel over TFTP (blksize 1468, no
/// window: what firmware does), and optionally both again over HTTP.
public struct StormPlan: Sendable {
    public var machines: Int
    public var server: IPv4Address
    public var relay: IPv4Address
    public var dhcpPort: Int = 67
    public var tftpPort: Int = 69
    /// The second download, after the boot file (a kernel and initrd in one file).
    public var kernel: String
    /// HTTP port for the same two files again; nil: TFTP only.
    public var httpPort: Int? = nil
    /// Expected digests by file name (a file not listed is not checked).
    public var expected: [String: ContentDigest] = [:]
    public var macBase: Int = 0
    /// DHCP retransmission waits (a PXE ROM's are 4, 8, 16, 32 s; shorter here).
    public var dhcpWaits: [TimeAmount] = [.seconds(1), .seconds(2), .seconds(4), .seconds(8)]
    public var tftpTimeout = 1
    public var tftpRetries = 5
    /// Skip DHCP and fetch this boot file straight away (a TFTP-only storm).
    public var bootFileWithoutDHCP: String? = nil

    public init(machines: Int, server: IPv4Address, relay: IPv4Address, kernel: String) {
        self.machines = machines
        self.server = server
        self.relay = relay
        self.kernel = kernel
    }
}

/// One machine's boot.
public struct MachineResult: Sendable {
    public var index: Int
    public var address: IPv4Address?
    /// Seconds from the storm's start to the end of its last download (or its failure).
    public var finished: Double
    public var dhcpRetransmits = 0
    public var tftpRetransmits = 0
    public var failure: String?
}

/// The storm's outcome, as the bench prints it.
public struct StormReport: Sendable {
    public var machines: [MachineResult]
    public var wall: Double

    public var failures: [MachineResult] { machines.filter { $0.failure != nil } }
    public var lastBoot: Double { machines.map(\.finished).max() ?? 0 }
    public var medianBoot: Double {
        let t = machines.filter { $0.failure == nil }.map(\.finished).sorted()
        return t.isEmpty ? 0 : t[t.count / 2]
    }

    /// One line of JSON (no Foundation needed for so few fields).
    public var json: String {
        let reasons = Dictionary(grouping: failures.compactMap(\.failure), by: { $0 }).mapValues(\.count)
        let reasonText = reasons.sorted { $0.value > $1.value }.prefix(5)
            .map { "\"\(escape($0.key))\": \($0.value)" }.joined(separator: ", ")
        let timeline = machines.filter { $0.failure == nil }.map(\.finished).sorted().map { String(format3($0)) }
            .joined(separator: ",")
        return "{\"machines\": \(machines.count), \"ok\": \(machines.count - failures.count), \"failed\": \(failures.count), "
            + "\"last_s\": \(format3(lastBoot)), \"median_s\": \(format3(medianBoot)), \"wall_s\": \(format3(wall)), "
            + "\"dhcp_retransmits\": \(machines.map(\.dhcpRetransmits).reduce(0, +)), "
            + "\"tftp_retransmits\": \(machines.map(\.tftpRetransmits).reduce(0, +)), "
            + "\"failure_reasons\": {\(reasonText)}, \"finish_times\": [\(timeline)]}"
    }

    private func escape(_ s: String) -> String {
        String(s.flatMap { c -> [Character] in c == "\"" || c == "\\" ? ["\\", c] : [c] })
    }

    private func format3(_ v: Double) -> String {
        let ms = Int((v * 1000).rounded())
        let frac = String(ms % 1000)
        return "\(ms / 1000)." + String(repeating: "0", count: 3 - frac.count) + frac
    }
}

public enum BootStorm {
    public static func run(_ plan: StormPlan) async throws -> StormReport {
        let relay = try await RelayAgent.start(relay: plan.relay, server: plan.server, serverPort: plan.dhcpPort)
        defer { Task { await relay.close() } }
        let start = NIODeadline.now()
        let results = await withTaskGroup(of: MachineResult.self) { group in
            for i in 0..<plan.machines {
                group.addTask { await boot(i, plan: plan, relay: relay, start: start) }
            }
            var all: [MachineResult] = []
            for await r in group { all.append(r) }
            return all.sorted { $0.index < $1.index }
        }
        return StormReport(machines: results, wall: seconds(since: start))
    }

    static func seconds(since start: NIODeadline) -> Double { Double((NIODeadline.now() - start).nanoseconds) / 1e9 }

    static func mac(_ n: Int) -> [UInt8] {
        [0x52, 0x54, 0x01, UInt8((n >> 16) & 0xFF), UInt8((n >> 8) & 0xFF), UInt8(n & 0xFF)]
    }

    static func boot(_ index: Int, plan: StormPlan, relay: RelayAgent, start: NIODeadline) async -> MachineResult {
        var r = MachineResult(index: index, finished: 0)
        func fail(_ why: String) -> MachineResult {
            r.failure = why
            r.finished = seconds(since: start)
            return r
        }
        let bootFile: String
        let next: IPv4Address
        if let direct = plan.bootFileWithoutDHCP {
            bootFile = direct
            next = plan.server
        } else {
            switch await dhcp(index, plan: plan, relay: relay, result: &r) {
            case .success(let (file, server)): (bootFile, next) = (file, server)
            case .failure(let why): return fail(why.text)
            }
        }
        return await download(bootFile, from: next, plan: plan, result: r, start: start)
    }

    struct Failure: Error { let text: String }

    /// DORA through the relay; the boot file and the server to fetch it from.
    static func dhcp(_ index: Int, plan: StormPlan, relay: RelayAgent, result r: inout MachineResult)
        async -> Result<(String, IPv4Address), Failure>
    {
        let chaddr = mac(plan.macBase + index)
        let xid = UInt32.random(in: 1...UInt32.max)
        var pxe = DHCPOptions()
        pxe[.parameterRequestList] = [1, 3, 6, 43, 60, 66, 67]
        pxe[DHCPOptionCode(93)] = [0, 0]
        pxe[DHCPOptionCode(60)] = Array("PXEClient:Arch:00000:UNDI:002001".utf8)

        var retransmits = 0
        func exchange(_ type: DHCPMessageType, extra: (inout DHCPOptions) -> Void, expect: DHCPMessageType) async -> DHCPMessage? {
            var o = pxe
            o.messageType = type
            extra(&o)
            let m = DHCPMessage(op: .bootRequest, xid: xid, chaddr: chaddr, options: o)
            for (attempt, wait) in plan.dhcpWaits.enumerated() {
                if attempt > 0 { retransmits += 1 }
                if let reply = await relay.exchange(m, timeout: wait), reply.options.messageType == expect { return reply }
            }
            return nil
        }
        defer { r.dhcpRetransmits += retransmits }
        guard let offer = await exchange(.discover, extra: { _ in }, expect: .offer) else { return .failure(Failure(text: "no DHCPOFFER")) }
        guard let sid = offer.options.serverIdentifier else { return .failure(Failure(text: "OFFER without a server identifier")) }
        guard let ack = await exchange(.request, extra: {
            $0.set(.requestedIPAddress, ipv4: offer.yiaddr)
            $0.set(.serverIdentifier, ipv4: sid)
        }, expect: .ack) else { return .failure(Failure(text: "no DHCPACK")) }
        r.address = ack.yiaddr
        // The `file` field, or option 67 (some servers answer PXE clients with the option).
        let named = [ack.fileName, ack.options.string(.bootfileName), offer.fileName, offer.options.string(.bootfileName)]
        guard let bootFile = named.compactMap({ $0 }).first(where: { !$0.isEmpty }) else {
            return .failure(Failure(text: "no boot file in the ACK"))
        }
        return .success((bootFile, ack.siaddr != .any ? ack.siaddr : plan.server))
    }

    /// The boot file, then the kernel, over TFTP (and HTTP when asked).
    static func download(_ bootFile: String, from next: IPv4Address, plan: StormPlan, result: MachineResult,
                         start: NIODeadline) async -> MachineResult {
        var r = result
        func fail(_ why: String) -> MachineResult {
            r.failure = why
            r.finished = seconds(since: start)
            return r
        }

        var options = TFTPClientOptions()
        options.blockSize = 1468
        options.windowSize = nil
        options.timeout = plan.tftpTimeout
        options.retries = plan.tftpRetries
        let tftp = TFTPClient(host: next.description, port: plan.tftpPort, options: options)
        for file in [bootFile, plan.kernel] {
            let digest = NIOLockedValueBox(ContentDigest())
            do {
                let result = try await tftp.fetch(file) { b in digest.withLockedValue { $0.update(b.readableBytesView) } }
                r.tftpRetransmits += result.retransmits
            } catch {
                return fail("TFTP \(file): \(error)")
            }
            if let want = plan.expected[file], digest.withLockedValue({ $0 }) != want { return fail("TFTP \(file): wrong bytes") }
        }
        if let port = plan.httpPort {
            for file in [bootFile, plan.kernel] {
                do {
                    let got = try await HTTPFetch.get(host: next.description, port: port, path: "/" + file)
                    guard got.status == 200 else { return fail("HTTP \(file): status \(got.status)") }
                    if let want = plan.expected[file], got.digest != want { return fail("HTTP \(file): wrong bytes") }
                } catch {
                    return fail("HTTP \(file): \(error)")
                }
            }
        }
        r.finished = seconds(since: start)
        return r
    }

    /// The digest of every regular file directly in `dir`, by name.
    public static func digests(ofFilesIn dir: String) -> [String: ContentDigest] {
        guard let d = opendir(dir) else { return [:] }
        defer { closedir(d) }
        var out: [String: ContentDigest] = [:]
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard e.pointee.d_type == UInt8(DT_REG), let digest = digest(ofFile: dir + "/" + name) else { continue }
            out[name] = digest
        }
        return out
    }

    /// The digest of a local file (what the server should send).
    public static func digest(ofFile path: String) -> ContentDigest? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var d = ContentDigest()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 { return nil }
            if n == 0 { break }
            d.update(buffer[0..<n])
        }
        return d
    }
}
