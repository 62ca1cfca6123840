/// Option 53 values (RFC 2132 §9.6). Later registrations (FORCERENEW, LEASEQUERY, …) are not
/// served and decode to `nil` through `DHCPOptions.messageType`.
public enum DHCPMessageType: UInt8, Sendable, Equatable, CaseIterable, CustomStringConvertible {
    case discover = 1
    case offer = 2
    case request = 3
    case decline = 4
    case ack = 5
    case nak = 6
    case release = 7
    case inform = 8

    public var description: String {
        switch self {
        case .discover: "DHCPDISCOVER"
        case .offer: "DHCPOFFER"
        case .request: "DHCPREQUEST"
        case .decline: "DHCPDECLINE"
        case .ack: "DHCPACK"
        case .nak: "DHCPNAK"
        case .release: "DHCPRELEASE"
        case .inform: "DHCPINFORM"
        }
    }
}
