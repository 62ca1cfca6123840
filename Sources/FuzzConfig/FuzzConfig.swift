import FuzzSupport
import PXEConfig

/// The YAML layer and validation: any text either loads or yields errors, never a trap; every
/// error carries a position inside the text (or line 0 for whole-file problems); a loaded
/// configuration has ranges inside their subnets.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    // Count LF bytes: splitting the String on "\n" would treat CR LF as one Character and miss it.
    let lines = text.utf8.reduce(1) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
    do {
        let config = try PXEConfig.parse(text: text, filename: "fuzz.yaml")
        for interface in config.interfaces {
            if let pool = interface.dhcp {
                FuzzDriver.require(pool.subnet.contains(pool.rangeStart) && pool.subnet.contains(pool.rangeEnd), "range outside subnet")
                FuzzDriver.require(pool.rangeStart <= pool.rangeEnd, "range reversed")
            }
        }
        _ = config.summary()
    } catch {
        FuzzDriver.require(!error.errors.isEmpty, "empty error list")
        for e in error.errors {
            FuzzDriver.require(e.line >= 0 && e.line <= lines + 1, "error line \(e.line) outside \(lines) lines")
            FuzzDriver.require(!e.description.isEmpty, "empty message")
        }
    }
    return 0
}

@main struct FuzzConfigMain {
    static func main() { FuzzDriver.main(fuzzConfig) }
}
