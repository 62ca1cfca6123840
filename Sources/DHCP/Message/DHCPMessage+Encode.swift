import NIOCore
import PXEConfig

/// The result of encoding: the bytes plus what the encoder had to decide.
public struct DHCPEncodedMessage: Sendable, Equatable {
    public var bytes: [UInt8]
    /// Header fields that carry options (option 52); empty when everything fit in `options`.
    public var overload: DHCPMessage.Overload
    /// Options that did not fit even with overload, in the order they were given.
    public var dropped: [DHCPOptionCode]
}

extension DHCPMessage {
    /// The effective maximum DHCP message size for a client: option 57 counts IP and UDP headers,
    /// so 28 bytes come off, and nothing below the 576-byte floor is believed. Capped at an
    /// Ethernet MTU so a client's claim cannot make us send jumbo datagrams.
    public static func maxReplySize(clientMaxMessageSize: UInt16?) -> Int {
        guard let v = clientMaxMessageSize else { return defaultMaxSize }
        return min(max(Int(v), 576), 1500) - 28
    }

    /// Encodes into a fresh array: header, cookie, options in the given order, END, padding to
    /// 300 bytes. Options go into `file` and then `sname` (option 52) only when they do not fit in
    /// `maxSize` and those fields are empty.
    public func encode(maxSize: Int = DHCPMessage.defaultMaxSize) -> [UInt8] {
        encodeDetailed(maxSize: maxSize).bytes
    }

    public func encode(maxSize: Int = DHCPMessage.defaultMaxSize, into buffer: inout ByteBuffer) {
        buffer.writeBytes(encode(maxSize: maxSize))
    }

    public func encodeDetailed(maxSize: Int = DHCPMessage.defaultMaxSize) -> DHCPEncodedMessage {
        let limit = max(maxSize, Self.minimumSize)
        var out: [UInt8] = []
        out.reserveCapacity(max(Self.minimumSize, 548))
        out.append(op.rawValue)
        out.append(htype)
        out.append(hlen)
        out.append(hops)
        out.appendBigEndian(xid)
        out.appendBigEndian(secs)
        out.appendBigEndian(flags)
        for a in [ciaddr, yiaddr, siaddr, giaddr] { out.append(contentsOf: a.bytes) }
        out.appendField(chaddr, size: 16, terminated: false)

        guard hasMagicCookie || !options.isEmpty else {
            out.appendField(sname, size: 64, terminated: true)
            out.appendField(file, size: 128, terminated: true)
            out.append(contentsOf: vendorArea.prefix(limit - out.count))
            out.padTo(Self.minimumSize)
            return DHCPEncodedMessage(bytes: out, overload: [], dropped: [])
        }

        let layout = OptionLayout.make(
            options: options, mainCapacity: limit - Self.fixedHeaderSize - 4,
            fileFree: file.allSatisfy { $0 == 0 }, snameFree: sname.allSatisfy { $0 == 0 })

        if layout.overload.contains(.sname) {
            out.appendField(layout.sname + [DHCPOptionCode.end.rawValue], size: 64, terminated: false)
        } else {
            out.appendField(sname, size: 64, terminated: true)
        }
        if layout.overload.contains(.file) {
            out.appendField(layout.file + [DHCPOptionCode.end.rawValue], size: 128, terminated: false)
        } else {
            out.appendField(file, size: 128, terminated: true)
        }
        out.append(contentsOf: Self.magicCookie)
        out.append(contentsOf: layout.main)
        out.append(DHCPOptionCode.end.rawValue)
        out.padTo(Self.minimumSize)
        return DHCPEncodedMessage(bytes: out, overload: layout.overload, dropped: layout.dropped)
    }
}

/// Places option instances into `options`, then `file`, then `sname`.
private struct OptionLayout {
    var main: [UInt8] = []
    var file: [UInt8] = []
    var sname: [UInt8] = []
    var overload: DHCPMessage.Overload = []
    var dropped: [DHCPOptionCode] = []

    /// Each option as its wire instances (RFC 3396 splitting above 255 bytes).
    static func instances(_ o: DHCPOption) -> [[UInt8]] {
        if o.data.isEmpty { return [[o.code.rawValue, 0]] }
        return stride(from: 0, to: o.data.count, by: 255).map { start in
            let chunk = o.data[start..<min(start + 255, o.data.count)]
            return [o.code.rawValue, UInt8(chunk.count)] + chunk
        }
    }

    static func make(options: DHCPOptions, mainCapacity: Int, fileFree: Bool, snameFree: Bool) -> OptionLayout {
        var layout = OptionLayout()
        let wire = options.entries.map { ($0.code, instances($0)) }
        // Room for END in `options`.
        let total = wire.reduce(0) { $0 + $1.1.reduce(0) { $0 + $1.count } }
        if total <= mainCapacity - 1 {
            for (_, inst) in wire { for i in inst { layout.main += i } }
            return layout
        }
        // Overload: option 52 (3 bytes) and END go in `options`; each other field keeps a byte for END.
        let canOverload = fileFree || snameFree
        var capacity = [mainCapacity - 1 - (canOverload ? 3 : 0), fileFree ? 127 : 0, snameFree ? 63 : 0]
        var areas: [[UInt8]] = [[], [], []]
        for (code, inst) in wire {
            // Instances of one option must stay in order: options, then file, then sname.
            var trial = capacity
            var placement: [Int] = []
            var area = 0
            for i in inst {
                while area < 3 && trial[area] < i.count { area += 1 }
                guard area < 3 else { break }
                trial[area] -= i.count
                placement.append(area)
            }
            guard placement.count == inst.count else {
                layout.dropped.append(code)
                continue
            }
            capacity = trial
            for (i, a) in zip(inst, placement) { areas[a] += i }
        }
        if !areas[1].isEmpty { layout.overload.insert(.file) }
        if !areas[2].isEmpty { layout.overload.insert(.sname) }
        if !layout.overload.isEmpty {
            layout.main = [DHCPOptionCode.overload.rawValue, 1, layout.overload.rawValue]
        }
        layout.main += areas[0]
        layout.file = areas[1]
        layout.sname = areas[2]
        return layout
    }
}

extension [UInt8] {
    mutating func appendBigEndian<I: FixedWidthInteger>(_ v: I) {
        var be = v.bigEndian
        Swift.withUnsafeBytes(of: &be) { append(contentsOf: $0) }
    }

    /// Writes exactly `size` bytes: `bytes` cut or zero-padded. When `terminated`, the last byte is NUL.
    mutating func appendField(_ bytes: [UInt8], size: Int, terminated: Bool) {
        let keep = Swift.min(bytes.count, terminated ? size - 1 : size)
        append(contentsOf: bytes.prefix(keep))
        append(contentsOf: repeatElement(0, count: size - keep))
    }

    mutating func padTo(_ size: Int) {
        if count < size { append(contentsOf: repeatElement(0, count: size - count)) }
    }
}
