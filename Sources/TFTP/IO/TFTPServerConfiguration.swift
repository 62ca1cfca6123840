import NIOCore

/// Everything one TFTP listener needs. The daemon builds it from pxed.yaml; ptftpd from its flags.
public struct TFTPServerConfiguration: Sendable, Equatable {
    public var root: String
    public var address: String
    public var port: Int
    public var uploads: Bool = false
    public var overwrite: Bool = false
    public var limits = NegotiationLimits()
    /// Seconds before the first retransmit when the client did not negotiate `timeout`.
    public var timeout: Int = 1
    public var retries: Int = 5
    public var maxSessions: Int = 500
    public var portRange: ClosedRange<Int>? = nil
    /// Name used in log lines (the interface).
    public var label: String = "tftp"
    /// Off only in tests: runs transfers on unconnected sockets, the fallback taken when
    /// connecting (or the SO_REUSEPORT companion) fails, so that path is exercised too.
    var connectTransferSockets = true

    public init(root: String, address: String, port: Int) {
        self.root = root
        self.address = address
        self.port = port
    }

    func policy(for params: TransferParameters) -> RetransmitPolicy {
        RetransmitPolicy.standard(timeoutSeconds: params.timeout ?? timeout, retries: retries)
    }
}

