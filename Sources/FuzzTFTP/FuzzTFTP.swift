import FuzzSupport
import NIOCore
import TFTP

/// TFTP packets and option negotiation: decode never traps; a decoded packet re-encodes to bytes
/// that decode to the same packet; negotiation stays inside its limits and acknowledges only
/// what was asked; the path cleaner never lets `..` through.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTFTP(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let buffer = ByteBuffer(bytes: UnsafeBufferPointer(start: data, count: size))
    guard let packet = try? TFTPPacket.decode(buffer) else { return 0 }
    let again = try? TFTPPacket.decode(packet.encoded())
    FuzzDriver.require(again == packet, "re-encoded packet differs: \(packet)")
    switch packet {
    case .readRequest(let r), .writeRequest(let r):
        var limits = NegotiationLimits()
        limits.blockSizeMax = Int(size % 70000)
        limits.windowSizeMax = Int(size % 300)
        let (p, oack) = OptionNegotiation.negotiate(r.options, isRead: size % 2 == 0, size: size, limits: limits)
        FuzzDriver.require((8...65464).contains(p.blockSize) || p.blockSize == 512, "blksize \(p.blockSize)")
        FuzzDriver.require(p.windowSize >= 1 && p.windowSize <= max(1, limits.windowSizeMax), "windowsize \(p.windowSize)")
        let asked = Set(r.options.map { $0.name.lowercased() })
        FuzzDriver.require(oack.allSatisfy { asked.contains($0.name.lowercased()) }, "unrequested option in OACK")
        if let parts = try? PathJail.components(of: r.filename) {
            FuzzDriver.require(!parts.contains("..") && !parts.contains(".") && !parts.contains(""), "bad component in \(parts)")
            FuzzDriver.require(parts.allSatisfy { !$0.contains("/") && !$0.contains("\\") }, "separator in \(parts)")
        }
    case .optionAck(let options):
        _ = OptionNegotiation.accept(oack: options, requested: options)
    case .data, .ack, .error:
        break
    }
    return 0
}

@main struct FuzzTFTPMain {
    static func main() { FuzzDriver.main(fuzzTFTP) }
}
