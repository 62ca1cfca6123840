import NIOCore
#if canImport(Glibc)
import Glibc
#endif

extension TFTPServerConfiguration {
    /// The limits for one client. `blksize-max` is sized for IPv4 (1468 fills a 1500-byte MTU);
    /// an IPv6 header is 20 bytes longer, so IPv6 clients get 20 less, and a window's datagrams
    /// (sent with UDP GSO, which never fragments) still fit the link.
    func forClient(_ peer: SocketAddress) -> TFTPServerConfiguration {
        guard peer.protocol == .inet6, !limits.rfc1350 else { return self }
        var c = self
        c.limits.blockSizeMax = max(8, limits.blockSizeMax - 20)
        return c
    }
}

/// A request that passed the jail and negotiation: an open file and the session to run.
struct PreparedTransfer: @unchecked Sendable {
    // @unchecked: the session owns a file descriptor (an Int32) and is handed to exactly one
    // transfer, whose runner worker alone touches it afterwards.
    var session: any TransferMachine
    var fd: Int32
    /// A write request's temporary file and where it goes once committed.
    var upload: (temp: String, final: String, overwrite: Bool)?
    /// UDP GSO segment size for windows (0: lockstep, no GSO).
    var gsoSegment: Int
    var parameters: TransferParameters
    /// A read's file size in bytes as sent (nil for uploads, or netascii too large to count).
    var size: Int? = nil

    static func make(request: TFTPRequest, isRead: Bool, config: TFTPServerConfiguration,
                     jail: PathJail) throws -> PreparedTransfer {
        if isRead {
            let (fd, size, _) = try jail.openForReading(request.filename)
            var exactSize: Int? = size
            if request.mode == .netascii {
                // tsize must be exact; netascii grows the file, so count it (small files only).
                exactSize = size <= 16 << 20 ? netasciiSize(fd: fd) : nil
            }
            let (params, oack) = OptionNegotiation.negotiate(request.options, isRead: true, size: exactSize, limits: config.limits)
            let policy = config.policy(for: params)
            let file = FileSource(fd: fd, chunk: FileSource.chunk(blockSize: params.blockSize, windowSize: params.windowSize))
            let session: any TransferMachine = request.mode == .netascii
                ? SendSession(source: NetasciiEncodingSource(file), parameters: params, optionAck: oack, policy: policy)
                : SendSession(source: file, parameters: params, optionAck: oack, policy: policy)
            return PreparedTransfer(session: session, fd: fd, upload: nil,
                                    gsoSegment: params.windowSize > 1 ? params.blockSize + 4 : 0, parameters: params,
                                    size: exactSize)
        } else {
            guard config.uploads else { throw PathJail.Refusal.accessViolation("uploads are disabled") }
            let (fd, temp, final) = try jail.createForWriting(request.filename, overwrite: config.overwrite)
            let (params, oack) = OptionNegotiation.negotiate(request.options, isRead: false, size: nil, limits: config.limits)
            let policy = config.policy(for: params)
            // Nothing acknowledged may be lost: the file is made durable before the final ACK,
            // and the final ACK is repeated for two timeouts if the client resends its last block.
            let completion = ReceiveCompletion.commitThenDally(policy.timeout * 2)
            let session: any TransferMachine = request.mode == .netascii
                ? ReceiveSession(sink: NetasciiDecodingSink(FileSink(fd: fd)), parameters: params, optionAck: oack,
                                 policy: policy, completion: completion)
                : ReceiveSession(sink: FileSink(fd: fd), parameters: params, optionAck: oack, policy: policy,
                                 completion: completion)
            return PreparedTransfer(session: session, fd: fd, upload: (temp, final, config.overwrite), gsoSegment: 0,
                                    parameters: params)
        }
    }

    static func netasciiSize(fd: Int32) -> Int? {
        var source = FileSource(fd: fd)
        var total = 0
        while true {
            guard let chunk = try? source.read(upTo: 65536) else { return nil }
            total += NetasciiEncodingSource<FileSource>.encodedSize(of: chunk.readableBytesView)
            if chunk.readableBytes < 65536 { return total }
        }
    }

    /// Makes an upload durable and moves it into place (see `PathJail.commitUpload`).
    mutating func commitUpload() throws(PathJail.Refusal) {
        guard let upload else { return }
        try PathJail.commitUpload(fd: fd, temp: upload.temp, final: upload.final, overwrite: upload.overwrite)
        self.upload = nil
    }

    /// Closes the file; an upload that was never committed is removed.
    func abandon() {
        close(fd)
        if let upload { unlink(upload.temp) }
    }
}
