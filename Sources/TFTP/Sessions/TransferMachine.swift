import NIOCore

/// What the I/O layer needs from any session, sending or receiving: it feeds packets, ticks and
/// the result of a commit, and carries out the actions returned.
public protocol TransferMachine: Sendable {
    mutating func start(now: NIODeadline) -> SessionAction
    mutating func received(_ packet: TFTPPacket, now: NIODeadline) -> SessionAction
    mutating func tick(now: NIODeadline) -> SessionAction
    /// After `SessionAction.commit`: the received file is durable.
    mutating func committed(now: NIODeadline) -> SessionAction
    /// After `SessionAction.commit`: making the file durable failed.
    mutating func commitFailed(code: TFTPErrorCode, message: String, now: NIODeadline) -> SessionAction
    var nextDeadline: NIODeadline? { get }
    var stats: TransferStats { get }
    var parameters: TransferParameters { get }
}

extension SendSession: TransferMachine {
    /// A sending session never asks for a commit.
    public mutating func committed(now: NIODeadline) -> SessionAction { .none }
    public mutating func commitFailed(code: TFTPErrorCode, message: String, now: NIODeadline) -> SessionAction { .none }
}

extension ReceiveSession: TransferMachine {}
