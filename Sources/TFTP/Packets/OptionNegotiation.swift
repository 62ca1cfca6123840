/// What a transfer runs with after RFC 2347 negotiation.
public struct TransferParameters: Sendable, Equatable {
    public var blockSize: Int = 512
    public var windowSize: Int = 1
    /// Seconds before the first retransmit (RFC 2349 `timeout`), nil when not negotiated.
    public var timeout: Int? = nil
    /// Transfer size (RFC 2349 `tsize`) when known.
    public var transferSize: Int? = nil
    public init() {}
}

/// Server-side limits for option negotiation.
public struct NegotiationLimits: Sendable, Equatable {
    /// `--rfc1350`: every extension off, requests' options ignored, no OACK ever.
    public var rfc1350: Bool = false
    public var blockSizeMax: Int = 1468
    public var windowSizeMax: Int = 64
    /// Upper bound on windowsize × blksize, so a session's window buffer stays small.
    public var windowBytesMax: Int = 4 << 20
    public init() {}
}

public enum OptionNegotiation {
    public static let blockSizeRange = 8...65464
    public static let windowSizeRange = 1...65535
    public static let timeoutRange = 1...255

    /// Decides what the server accepts. The OACK lists only options the client asked for and we
    /// accepted, in the client's order; unknown or malformed options are ignored (RFC 2347).
    /// `size` is the file size for a read (nil when it cannot be stated exactly); for a write the
    /// client's declared tsize is echoed.
    public static func negotiate(_ requested: [TFTPOption], isRead: Bool, size: Int?,
                                 limits: NegotiationLimits) -> (TransferParameters, oack: [TFTPOption]) {
        var params = TransferParameters()
        guard !limits.rfc1350 else { return (params, []) }
        var oack: [TFTPOption] = []
        var windowOption: (index: Int, requested: Int)? = nil
        for option in requested {
            let name = option.name.lowercased()
            let value = Int(option.value.trimmingASCIISpaces)
            switch name {
            case "blksize":
                guard let v = value, v >= blockSizeRange.lowerBound else { continue }
                params.blockSize = min(v, blockSizeRange.upperBound, max(limits.blockSizeMax, 8))
                oack.append(TFTPOption(option.name, String(params.blockSize)))
            case "timeout":
                guard let v = value, timeoutRange.contains(v) else { continue }
                params.timeout = v
                oack.append(TFTPOption(option.name, String(v)))
            case "tsize":
                guard let v = value, v >= 0 else { continue }
                if isRead {
                    guard let size else { continue }
                    params.transferSize = size
                } else {
                    params.transferSize = v
                }
                oack.append(TFTPOption(option.name, String(params.transferSize ?? 0)))
            case "windowsize":
                guard let v = value, windowSizeRange.contains(v), limits.windowSizeMax >= 1 else { continue }
                windowOption = (oack.count, v)
                oack.append(TFTPOption(option.name, ""))
            default:
                continue
            }
        }
        // The window cap depends on the final block size, so settle it last.
        if let (index, v) = windowOption {
            let byBytes = max(1, limits.windowBytesMax / max(params.blockSize, 1))
            params.windowSize = max(1, min(v, limits.windowSizeMax, byBytes))
            oack[index].value = String(params.windowSize)
        }
        return (params, oack)
    }

    /// Client side: checks an OACK against what was asked. A server may lower blksize and
    /// windowsize, must echo timeout, and may never add options we did not ask for.
    public static func accept(oack: [TFTPOption], requested: [TFTPOption]) -> Result<TransferParameters, OptionError> {
        var params = TransferParameters()
        let asked = Dictionary(requested.map { ($0.name.lowercased(), $0.value) }, uniquingKeysWith: { a, _ in a })
        for option in oack {
            let name = option.name.lowercased()
            guard let askedValue = asked[name] else { return .failure(.unrequested(option.name)) }
            guard let v = Int(option.value.trimmingASCIISpaces) else { return .failure(.invalid(option.name, option.value)) }
            let askedInt = Int(askedValue) ?? 0
            switch name {
            case "blksize":
                guard blockSizeRange.contains(v), v <= askedInt else { return .failure(.invalid(option.name, option.value)) }
                params.blockSize = v
            case "windowsize":
                guard windowSizeRange.contains(v), v <= askedInt else { return .failure(.invalid(option.name, option.value)) }
                params.windowSize = v
            case "timeout":
                guard v == askedInt else { return .failure(.invalid(option.name, option.value)) }
                params.timeout = v
            case "tsize":
                guard v >= 0 else { return .failure(.invalid(option.name, option.value)) }
                params.transferSize = v
            default:
                return .failure(.unrequested(option.name))
            }
        }
        return .success(params)
    }

    public enum OptionError: Error, Sendable, Equatable, CustomStringConvertible {
        case unrequested(String)
        case invalid(String, String)
        public var description: String {
            switch self {
            case .unrequested(let n): "server acknowledged option '\(n)' that was not requested"
            case .invalid(let n, let v): "server acknowledged invalid value '\(v)' for option '\(n)'"
            }
        }
    }
}

extension String {
    var trimmingASCIISpaces: Substring {
        var s = Substring(self)
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return s
    }
}
