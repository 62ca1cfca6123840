import PXEConfig

extension ReplyDestination {
    /// RFC 2131 §4.1: giaddr → the relay on port 67; else ciaddr → the client; else the broadcast
    /// flag → 255.255.255.255; else unicast to yiaddr with an ARP entry for chaddr (Ethernet only;
    /// other hardware types get a broadcast). A NAK without a relay is always broadcast.
    public static func route(request m: DHCPMessage, yiaddr: IPv4Address, isNak: Bool = false) -> ReplyDestination {
        if m.giaddr != .any { return ReplyDestination(kind: .relay, address: m.giaddr, port: serverPort) }
        if isNak { return .broadcast }
        if m.ciaddr != .any { return ReplyDestination(kind: .clientAddress, address: m.ciaddr, port: clientPort) }
        if m.isBroadcastFlagSet { return .broadcast }
        if yiaddr != .any, m.htype == 1, m.hlen == 6 {
            return ReplyDestination(kind: .newAddress, address: yiaddr, port: clientPort,
                                    hardwareAddress: m.hardwareAddress)
        }
        return .broadcast
    }
}

extension DHCPServer {
    /// PXE option 43: sub-option 6 (discovery control) = 8, "boot the file in `file` directly", then END.
    public static let pxeVendorOptions: [UInt8] = [6, 1, 8, 255]

    /// Whether boot information goes into the reply.
    func wantsBoot(_ r: Request) -> Bool {
        r.client.isNetworkBoot || r.client.isIPXE || (r.host?.boot.map { !$0.isEmpty } ?? false)
    }

    /// What the client is told to boot, or nil when the reply carries no boot information.
    func bootDecision(_ r: Request) -> BootDecision? {
        guard wantsBoot(r) else { return nil }
        return BootPolicy(table: settings.boot, httpBase: settings.httpBase).decide(host: r.host, client: r.client, serverAddress: settings.serverAddress)
    }

    /// OFFER or ACK carrying `boot`, with the outcome's event.
    func reply(_ type: DHCPMessageType, to r: Request, yiaddr: IPv4Address, leaseChanges: [Lease] = [],
               event: DHCPEvent, withLease: Bool = true) -> DHCPOutcome {
        let boot = bootDecision(r)
        return DHCPOutcome(replies: [makeReply(type, to: r, yiaddr: yiaddr, boot: boot, withLease: withLease)],
                           leaseChanges: leaseChanges, event: event, boot: boot)
    }

    /// OFFER, or ACK (for REQUEST and, without lease options and yiaddr, for INFORM).
    func makeReply(_ type: DHCPMessageType, to r: Request, yiaddr: IPv4Address, boot: BootDecision?,
                   withLease: Bool = true) -> DHCPReply {
        let m = r.message
        var reply = DHCPMessage(
            op: .bootReply, htype: m.htype, hlen: m.hlen, hops: m.hops, xid: m.xid, secs: 0, flags: m.flags,
            ciaddr: type == .ack ? m.ciaddr : .any, yiaddr: yiaddr, giaddr: m.giaddr, chaddr: m.chaddr)
        var o = DHCPOptions()
        o.messageType = type
        o.set(.serverIdentifier, ipv4: settings.serverAddress)
        if withLease {
            let lease = leaseSeconds(r)
            o.set(.leaseTime, uint32: lease)
            o.set(.renewalTime, uint32: lease / 2)
            o.set(.rebindingTime, uint32: UInt32(UInt64(lease) * 7 / 8))
        }
        o.set(.subnetMask, ipv4: r.pool.subnet.netmask)
        if let router = r.pool.router { o.set(.router, ipv4: router) }
        if !r.pool.dns.isEmpty { o.set(.domainNameServer, ipv4List: r.pool.dns) }
        if let domain = r.pool.domain, !domain.isEmpty { o.set(.domainName, string: domain) }
        if r.options.requested(.hostName), let name = r.host?.hostname, !name.isEmpty { o.set(.hostName, string: name) }
        if r.options.requested(.broadcastAddress) { o.set(.broadcastAddress, ipv4: r.pool.subnet.broadcastAddress) }

        if let boot {
            reply.siaddr = boot.nextServer
            if let file = boot.file { reply.fileName = file }
            if r.client.isHTTPClient {
                o.set(.vendorClassIdentifier, string: "HTTPClient")
            } else if r.client.isPXEClient {
                o.set(.vendorClassIdentifier, string: "PXEClient")
                o[.vendorSpecific] = Self.pxeVendorOptions
            }
            if let uuid = r.client.machineIdentifier { o[.clientMachineIdentifier] = uuid }
            if r.options.requested(.tftpServerName) { o.set(.tftpServerName, string: boot.nextServer.description) }
            // HTTP Boot needs the URL in 67 or `file` (edk2 reads either); send both.
            if r.options.requested(.bootfileName) || r.client.isHTTPClient, let file = boot.file {
                o.set(.bootfileName, string: file)
            }
        }
        // RFC 6842: echo the client identifier. RFC 3046: echo option 82 unchanged, last.
        if let id = m.options.clientIdentifier { o[.clientIdentifier] = id }
        if let relay = m.options[.relayAgentInformation] { o[.relayAgentInformation] = relay }
        reply.options = o
        return DHCPReply(message: reply, destination: .route(request: m, yiaddr: yiaddr),
                         maxMessageSize: DHCPMessage.maxReplySize(clientMaxMessageSize: m.options.maxMessageSize))
    }

    func makeNak(to r: Request, reason: NakReason) -> DHCPReply {
        let m = r.message
        var reply = DHCPMessage(op: .bootReply, htype: m.htype, hlen: m.hlen, hops: m.hops, xid: m.xid,
                                flags: m.flags, giaddr: m.giaddr, chaddr: m.chaddr)
        // RFC 2131 §4.3.2: a NAK through a relay asks it to broadcast.
        if m.giaddr != .any { reply.isBroadcastFlagSet = true }
        var o = DHCPOptions()
        o.messageType = .nak
        o.set(.serverIdentifier, ipv4: settings.serverAddress)
        o.set(.message, string: reason.description)
        if let id = m.options.clientIdentifier { o[.clientIdentifier] = id }
        if let relay = m.options[.relayAgentInformation] { o[.relayAgentInformation] = relay }
        reply.options = o
        return DHCPReply(message: reply, destination: .route(request: m, yiaddr: .any, isNak: true),
                         maxMessageSize: DHCPMessage.maxReplySize(clientMaxMessageSize: m.options.maxMessageSize))
    }

    // MARK: BOOTP (RFC 951 / RFC 1497)

    /// BOOTP: answered only for a MAC with a reserved address, with RFC 1497 vendor extensions.
    func bootpReceived(_ m: DHCPMessage, now: Double) -> DHCPOutcome {
        guard settings.bootp else { return .ignored(.bootpDisabled) }
        guard let mac = m.macAddress, let host = hostsByMAC[mac], let ip = host.ip else {
            return .ignored(.unknownBOOTPClient)
        }
        let pool = settings.pool.flatMap { Self.selectPool($0, giaddr: m.giaddr) }
        let network = m.giaddr != .any ? pool?.subnet : (pool?.subnet ?? settings.interfaceNetwork)
        if let network, !network.contains(ip) { return .ignored(.reservationNotOnNetwork(ip)) }

        let boot = BootPolicy(table: settings.boot).decideBOOTP(host: host, serverAddress: settings.serverAddress)
        var reply = DHCPMessage(
            op: .bootReply, htype: m.htype, hlen: m.hlen, hops: m.hops, xid: m.xid, secs: m.secs, flags: m.flags,
            ciaddr: m.ciaddr, yiaddr: ip, siaddr: boot.nextServer, giaddr: m.giaddr, chaddr: m.chaddr)
        if let file = boot.file { reply.fileName = file }
        var o = DHCPOptions()
        if let network { o.set(.subnetMask, ipv4: network.netmask) }
        if let router = pool?.router ?? settings.bootpRouter { o.set(.router, ipv4: router) }
        if let dns = pool?.dns, !dns.isEmpty { o.set(.domainNameServer, ipv4List: dns) }
        if let name = host.hostname, !name.isEmpty { o.set(.hostName, string: name) }
        if let root = settings.tftpRoot, let file = boot.file, let size = bootFileSize(root, file), size >= 0 {
            o.set(.bootFileSize, uint16: UInt16(clamping: size / 512 + (size % 512 == 0 ? 0 : 1)))
        }
        reply.options = o
        return DHCPOutcome(replies: [DHCPReply(message: reply, destination: .route(request: m, yiaddr: ip))],
                           event: .bootpReplied(ip))
    }
}
