import NIOCore

/// Transfer mode named in a request (RFC 1350). "mail" is obsolete and refused.
public enum TFTPMode: String, Sendable, Equatable {
    case octet
    case netascii
}

/// One option in a request or OACK, in the order it appeared. Names are kept as sent;
/// comparisons are case-insensitive (RFC 2347).
public struct TFTPOption: Sendable, Equatable {
    public var name: String
    public var value: String
    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

public struct TFTPRequest: Sendable, Equatable {
    public var filename: String
    public var mode: TFTPMode
    public var options: [TFTPOption]
    public init(filename: String, mode: TFTPMode, options: [TFTPOption] = []) {
        self.filename = filename
        self.mode = mode
        self.options = options
    }
}

/// Error codes of RFC 1350 plus 8 (option negotiation refused, RFC 2347).
public enum TFTPErrorCode: UInt16, Sendable, Equatable {
    case notDefined = 0
    case fileNotFound = 1
    case accessViolation = 2
    case diskFull = 3
    case illegalOperation = 4
    case unknownTransferID = 5
    case fileExists = 6
    case noSuchUser = 7
    case optionRefused = 8
}

public enum TFTPPacket: Sendable, Equatable {
    case readRequest(TFTPRequest)
    case writeRequest(TFTPRequest)
    case data(block: UInt16, payload: ByteBuffer)
    case ack(block: UInt16)
    case error(code: UInt16, message: String)
    case optionAck([TFTPOption])

    public static func error(_ code: TFTPErrorCode, _ message: String) -> TFTPPacket {
        .error(code: code.rawValue, message: message)
    }

    public var opcode: UInt16 {
        switch self {
        case .readRequest: 1
        case .writeRequest: 2
        case .data: 3
        case .ack: 4
        case .error: 5
        case .optionAck: 6
        }
    }
}

/// Why a datagram was not a TFTP packet. Hostile input ends here, never in a trap.
public enum TFTPDecodeError: Error, Sendable, Equatable {
    case tooShort(Int)
    case unknownOpcode(UInt16)
    case unterminatedString(field: String)
    case badMode(String)
    case emptyFilename
    case badOption(String)
    case duplicateOption(String)
    case invalidText(field: String)
}

extension TFTPPacket {
    /// Largest string a request may carry; a filename longer than this is hostile, not useful.
    static let maxStringLength = 1024

    public static func decode(_ buffer: ByteBuffer) throws(TFTPDecodeError) -> TFTPPacket {
        var buf = buffer
        guard let op = buf.readInteger(as: UInt16.self) else { throw .tooShort(buffer.readableBytes) }
        switch op {
        case 1, 2:
            let request = try decodeRequest(&buf)
            return op == 1 ? .readRequest(request) : .writeRequest(request)
        case 3:
            guard let block = buf.readInteger(as: UInt16.self) else { throw .tooShort(buffer.readableBytes) }
            return .data(block: block, payload: buf.readSlice(length: buf.readableBytes) ?? ByteBuffer())
        case 4:
            guard let block = buf.readInteger(as: UInt16.self) else { throw .tooShort(buffer.readableBytes) }
            return .ack(block: block)
        case 5:
            guard let code = buf.readInteger(as: UInt16.self) else { throw .tooShort(buffer.readableBytes) }
            // Many stacks omit the terminating NUL on error text; be lenient here, it is only logged.
            let text = readString(&buf, field: "message", lenient: true) ?? ""
            return .error(code: code, message: text)
        case 6:
            var options: [TFTPOption] = []
            while buf.readableBytes > 0 {
                guard let name = readString(&buf, field: "option"), let value = readString(&buf, field: "value")
                else { throw .unterminatedString(field: "option") }
                options.append(TFTPOption(name, value))
                if options.count > 64 { throw .badOption("too many options") }
            }
            return .optionAck(options)
        default:
            throw .unknownOpcode(op)
        }
    }

    private static func readString(_ buf: inout ByteBuffer, field: String, lenient: Bool = false) -> String? {
        let view = buf.readableBytesView
        let end = view.firstIndex(of: 0)
        if end == nil && !lenient { return nil }
        let length = (end ?? view.endIndex) - view.startIndex
        guard length <= maxStringLength || lenient else { return nil }
        let bytes = buf.readBytes(length: length) ?? []
        if end != nil { buf.moveReaderIndex(forwardBy: 1) }
        // Modes and options must be valid UTF-8 (they are ASCII words): replacing bad bytes would
        // change the text, and a re-encoded packet would no longer match (found by the fuzzer).
        // Error text is only logged, so there bad bytes are replaced instead.
        if lenient {
            // A cut through a multi-byte sequence, or a replaced bad byte, can make the text longer
            // in UTF-8 than the bytes it came from; trim whole characters so that a re-encoded
            // packet reads back the same (fuzzer finding).
            var text = String(decoding: bytes.prefix(maxStringLength), as: UTF8.self)
            while text.utf8.count > maxStringLength { text.removeLast() }
            return text
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func decodeRequest(_ buf: inout ByteBuffer) throws(TFTPDecodeError) -> TFTPRequest {
        // Read the filename as raw bytes: a NUL inside is impossible (it terminates), but invalid
        // UTF-8 or control bytes are kept visible so the path jail can refuse them explicitly.
        let view = buf.readableBytesView
        guard let nul = view.firstIndex(of: 0) else { throw .unterminatedString(field: "filename") }
        let nameLength = nul - view.startIndex
        guard nameLength <= maxStringLength else { throw .badOption("filename too long") }
        let nameBytes = buf.readBytes(length: nameLength) ?? []
        buf.moveReaderIndex(forwardBy: 1)
        guard !nameBytes.isEmpty else { throw .emptyFilename }
        guard let filename = String(validatingUTF8CString: nameBytes) else { throw .invalidText(field: "filename") }
        guard let modeText = readString(&buf, field: "mode") else { throw .unterminatedString(field: "mode") }
        guard let mode = TFTPMode(rawValue: modeText.lowercased()) else { throw .badMode(modeText) }
        var options: [TFTPOption] = []
        var seen = Set<String>()
        while buf.readableBytes > 0 {
            // Some clients pad the request with trailing NULs; tolerate that.
            if buf.readableBytesView.allSatisfy({ $0 == 0 }) { break }
            guard let name = readString(&buf, field: "option") else { throw .unterminatedString(field: "option") }
            guard let value = readString(&buf, field: "value") else { throw .unterminatedString(field: "option value") }
            guard !name.isEmpty else { throw .badOption("empty option name") }
            guard seen.insert(name.lowercased()).inserted else { throw .duplicateOption(name) }
            options.append(TFTPOption(name, value))
            if options.count > 32 { throw .badOption("too many options") }
        }
        return TFTPRequest(filename: filename, mode: mode, options: options)
    }

    public func encode(into buf: inout ByteBuffer) {
        buf.writeInteger(opcode)
        switch self {
        case .readRequest(let r), .writeRequest(let r):
            buf.writeString(r.filename); buf.writeInteger(UInt8(0))
            buf.writeString(r.mode.rawValue); buf.writeInteger(UInt8(0))
            for o in r.options {
                buf.writeString(o.name); buf.writeInteger(UInt8(0))
                buf.writeString(o.value); buf.writeInteger(UInt8(0))
            }
        case .data(let block, let payload):
            buf.writeInteger(block)
            buf.writeImmutableBuffer(payload)
        case .ack(let block):
            buf.writeInteger(block)
        case .error(let code, let message):
            buf.writeInteger(code)
            buf.writeString(message); buf.writeInteger(UInt8(0))
        case .optionAck(let options):
            for o in options {
                buf.writeString(o.name); buf.writeInteger(UInt8(0))
                buf.writeString(o.value); buf.writeInteger(UInt8(0))
            }
        }
    }

    public func encoded(allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        var size = 4
        if case .data(_, let p) = self { size += p.readableBytes }
        var buf = allocator.buffer(capacity: size + 64)
        encode(into: &buf)
        return buf
    }
}

extension String {
    /// Strict UTF-8 decoding of a byte array that holds no NUL.
    init?(validatingUTF8CString bytes: [UInt8]) {
        guard let s = String(validating: bytes, as: UTF8.self) else { return nil }
        self = s
    }
}
