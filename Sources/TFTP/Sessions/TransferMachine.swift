import NIOCore

/// What the I/O layer needs from any session, sending or receiving.
public protocol TransferMachine: Sendable {
    mutating func start(now: NIODeadline) -> SessionAction
    mutating func received(_ packet: TFTPPacket, now: NIODeadline) -> SessionAction
    mutating func tick(now: NIODeadline) -> SessionAction
    var nextDeadline: NIODeadline? { get }
    var stats: TransferStats { get }
    var parameters: TransferParameters { get }
}

extension SendSession: TransferMachine {}
extension ReceiveSession: TransferMachine {}
