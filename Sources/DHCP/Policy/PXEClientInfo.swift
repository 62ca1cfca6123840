/// RFC 4578 client system architecture (option 93), reduced to the boot-table entries it selects.
public enum ClientArchitecture: Sendable, Equatable, CustomStringConvertible {
    case bios
    case uefiIA32
    case uefiX64
    case uefiArm64
    /// UEFI HTTP Boot: x86 (15), x64 (16), ARM64 (19).
    case uefiIA32HTTP
    case uefiX64HTTP
    case uefiArm64HTTP
    /// Any other registered or unregistered code (HTTP boot, ARM32, RISC-V, …).
    case other(UInt16)

    public init(code: UInt16) {
        switch code {
        case 0: self = .bios
        case 6: self = .uefiIA32
        // 7 is x86-64 UEFI; 9 ("EFI BC") was swapped with it in early firmware and is treated the same.
        case 7, 9: self = .uefiX64
        case 11: self = .uefiArm64
        case 15: self = .uefiIA32HTTP
        case 16: self = .uefiX64HTTP
        case 19: self = .uefiArm64HTTP
        default: self = .other(code)
        }
    }

    public var description: String {
        switch self {
        case .bios: "bios"
        case .uefiIA32: "uefi-ia32"
        case .uefiX64: "uefi-x64"
        case .uefiArm64: "uefi-arm64"
        case .uefiIA32HTTP: "uefi-ia32-http"
        case .uefiX64HTTP: "uefi-x64-http"
        case .uefiArm64HTTP: "uefi-arm64-http"
        case .other(let c): "arch-\(c)"
        }
    }
}

/// What a request says about the client's network-boot firmware.
public struct PXEClientInfo: Sendable, Equatable {
    /// Option 60 text.
    public var vendorClass: String?
    /// Option 60 starts with `PXEClient`.
    public var isPXEClient: Bool
    /// Option 60 starts with `HTTPClient` (UEFI HTTP boot).
    public var isHTTPClient: Bool
    /// User class (77) `iPXE`, raw or RFC 3004 encoded, or option 175 present.
    public var isIPXE: Bool
    /// Option 93 (first entry), else the `Arch:NNNNN` field of option 60.
    public var architectureCode: UInt16?
    /// Option 97 when it is a valid GUID: 17 bytes, type 0.
    public var machineIdentifier: [UInt8]?

    public init(options: DHCPOptions) {
        let vc = options.vendorClassIdentifier
        vendorClass = vc
        isPXEClient = vc?.hasPrefix("PXEClient") ?? false
        isHTTPClient = vc?.hasPrefix("HTTPClient") ?? false
        isIPXE = options.contains(.ipxeEncapsulated) || Self.userClassContainsIPXE(options[.userClass])
        if let a = options[.clientSystemArchitecture], a.count >= 2, a.count % 2 == 0 {
            architectureCode = UInt16(a[0]) << 8 | UInt16(a[1])
        } else {
            architectureCode = vc.flatMap(Self.architecture(fromVendorClass:))
        }
        if let uuid = options[.clientMachineIdentifier], uuid.count == 17, uuid[0] == 0 {
            machineIdentifier = uuid
        } else {
            machineIdentifier = nil
        }
    }

    /// PXE or HTTP boot firmware (the test `pxeOnly` uses).
    public var isNetworkBoot: Bool { isPXEClient || isHTTPClient }

    public var architecture: ClientArchitecture? { architectureCode.map(ClientArchitecture.init(code:)) }

    /// `PXEClient:Arch:00007:UNDI:003016` → 7.
    static func architecture(fromVendorClass vc: String) -> UInt16? {
        let parts = vc.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count >= 3, parts[1] == "Arch", parts[2].count <= 5,
              parts[2].allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return UInt16(parts[2])
    }

    /// iPXE sends `iPXE` as the raw option data; RFC 3004 wants length-prefixed entries. Accept both.
    static func userClassContainsIPXE(_ data: [UInt8]?) -> Bool {
        guard let data, !data.isEmpty else { return false }
        let ipxe = Array("iPXE".utf8)
        if data == ipxe { return true }
        var i = 0
        while i < data.count {
            let length = Int(data[i])
            let start = i + 1
            guard length > 0, start + length <= data.count else { return false }
            if data[start..<start + length].elementsEqual(ipxe) { return true }
            i = start + length
        }
        return false
    }
}
