import PXEConfig

/// Proxy DHCP (PXE 2.1): pxed beside the site's own DHCP server. The site's server hands out
/// addresses; pxed answers network-boot clients with boot information only (yiaddr 0.0.0.0), on
/// port 67, and runs the PXE boot server on port 4011.
///
/// What each firmware needs (read in edk2 `NetworkPkg/UefiPxeBcDxe/PxeBcDhcp4.c`, iPXE
/// `src/net/udp/dhcp.c`, dnsmasq `src/rfc2131.c`), and so the rule per client kind:
/// - **BIOS PXE ROMs** (arch 0): option 43 with discovery control 8 ("boot the file in the
///   offer, no menu, no discovery"), siaddr = the TFTP server, the file.
/// - **UEFI** (edk2: OVMF and most vendor firmware; arch 6, 7, 9, 10, 11): no option 43 at all.
///   edk2 classes a PXEClient offer without 43 as "BINL" and always asks port 4011 for its file,
///   sending that request to siaddr (else option 54), so siaddr is pxed itself here; the 4011
///   ACK names the TFTP server. (Older edk2 also throws away proxy offers that carry 43.6-10.)
/// - **iPXE** (user class iPXE or option 175): uses a proxy offer that has siaddr and a file
///   directly; the file is `boot.ipxe`, which breaks the iPXE-loads-iPXE loop.
/// - **HTTPClient** (UEFI HTTP boot): option 60 `HTTPClient` and the URI in 67 and `file`; never
///   asks 4011.
/// Every offer carries 53, 54 (pxed), 60 (the client's class word) and 97 echoed when it is a
/// valid client GUID (17 bytes, type 0); otherwise 97 is left out. Offers are broadcast (the
/// client has no address yet). Only DISCOVERs from PXEClient/HTTPClient are answered, and a
/// REQUEST only when it names this server (option 54): a proxy never answers a REQUEST meant for
/// the site's server.
/// On 4011 a REQUEST (or INFORM) from a PXEClient gets an ACK sent from 4011 to the request's
/// source address and port (edk2 listens on 4011, iPXE on 68), with the file, 60, 54, 97 as
/// above and, when the request carried a boot item (43.71), that item echoed.
extension DHCPServer {
    /// The client kinds the proxy rule distinguishes.
    enum ProxyClientKind: Equatable {
        case bios, uefi, ipxe, http

        init(_ client: PXEClientInfo) {
            if client.isHTTPClient {
                self = .http
            } else if client.isIPXE {
                self = .ipxe
            } else if let arch = client.architectureCode, arch != 0 {
                self = .uefi
            } else {
                self = .bios
            }
        }
    }

    /// Port 67 in proxy mode.
    mutating func proxyReceived(_ m: DHCPMessage, type: DHCPMessageType, context: RequestContext) -> DHCPOutcome {
        let client = PXEClientInfo(options: m.options)
        guard client.isNetworkBoot else { return .ignored(.notNetworkBootClient) }
        switch type {
        case .discover:
            return proxyReply(.offer, to: m, client: client, bootServer: false,
                              destination: .route(request: m, yiaddr: .any), event: .proxyOffered)
        case .request:
            guard let sid = m.options.serverIdentifier else { return .ignored(.notForProxy(.request)) }
            guard sid == settings.serverAddress else { return .ignored(.otherServerSelected(sid)) }
            return proxyReply(.ack, to: m, client: client, bootServer: false,
                              destination: .route(request: m, yiaddr: .any), event: .proxyAcknowledged(bootServer: false))
        default:
            return .ignored(.notForProxy(type))
        }
    }

    /// A datagram on the boot server port (4011): the PXE boot server ("BINL") of proxy mode.
    public mutating func handleBootServer(_ m: DHCPMessage, context: RequestContext, now: Double) -> DHCPOutcome {
        guard m.op == .bootRequest else { return .ignored(.notARequest) }
        guard m.hlen > 0 else { return .ignored(.noHardwareAddress) }
        guard let type = m.options.messageType else {
            return .ignored(.unknownMessageType(m.options[.messageType]?.first ?? 0))
        }
        guard type == .request || type == .inform else { return .ignored(.notForProxy(type)) }
        let client = PXEClientInfo(options: m.options)
        guard client.isPXEClient else { return .ignored(.notNetworkBootClient) }
        // Back to where the request came from: edk2 sends from port 4011 and listens there,
        // iPXE from 68. A relayed request goes back through the relay.
        let destination: ReplyDestination
        if m.giaddr != .any {
            destination = ReplyDestination(kind: .relay, address: m.giaddr, port: ReplyDestination.serverPort)
        } else if context.sourceAddress != .any {
            destination = ReplyDestination(kind: .clientAddress, address: context.sourceAddress, port: context.sourcePort)
        } else {
            destination = ReplyDestination(kind: .broadcast, address: .broadcast, port: context.sourcePort)
        }
        return proxyReply(.ack, to: m, client: client, bootServer: true, destination: destination,
                          event: .proxyAcknowledged(bootServer: true))
    }

    /// A proxy OFFER or ACK: boot information, no address.
    func proxyReply(_ type: DHCPMessageType, to m: DHCPMessage, client: PXEClientInfo, bootServer: Bool,
                    destination: ReplyDestination, event: DHCPEvent) -> DHCPOutcome {
        let host = m.macAddress.flatMap { hostsByMAC[$0] }
        let boot = BootPolicy(table: settings.boot, httpBase: settings.httpBase).decide(host: host, client: client, serverAddress: settings.serverAddress)
        guard let file = boot.file else { return .ignored(.noBootFile) }
        let kind = ProxyClientKind(client)
        var reply = DHCPMessage(
            op: .bootReply, htype: m.htype, hlen: m.hlen, hops: m.hops, xid: m.xid, secs: 0, flags: m.flags,
            ciaddr: bootServer ? m.ciaddr : .any, yiaddr: .any, giaddr: m.giaddr, chaddr: m.chaddr)
        // edk2 sends its 4011 request to siaddr: on the port-67 offer that must be pxed itself.
        reply.siaddr = kind == .uefi && !bootServer ? settings.serverAddress : boot.nextServer
        reply.fileName = file
        if type == .offer { reply.isBroadcastFlagSet = true }
        var o = DHCPOptions()
        o.messageType = type
        o.set(.serverIdentifier, ipv4: settings.serverAddress)
        o.set(.vendorClassIdentifier, string: kind == .http ? "HTTPClient" : "PXEClient")
        if kind == .bios {
            o[.vendorSpecific] = Self.pxeVendorOptions
        }
        if bootServer, let item = Self.bootItem(m.options[.vendorSpecific]) {
            o[.vendorSpecific] = [71, UInt8(item.count)] + item + [255]
        }
        if let uuid = client.machineIdentifier { o[.clientMachineIdentifier] = uuid }
        if m.options.requested(.tftpServerName) { o.set(.tftpServerName, string: boot.nextServer.description) }
        if kind == .http || m.options.requested(.bootfileName) { o.set(.bootfileName, string: file) }
        if let relay = m.options[.relayAgentInformation] { o[.relayAgentInformation] = relay }
        reply.options = o
        return DHCPOutcome(
            replies: [DHCPReply(message: reply, destination: destination,
                                maxMessageSize: DHCPMessage.maxReplySize(clientMaxMessageSize: m.options.maxMessageSize))],
            event: event, boot: boot)
    }

    /// Sub-option 71 (PXE boot item: type and layer, 4 bytes) of a request's option 43.
    static func bootItem(_ vendor: [UInt8]?) -> [UInt8]? {
        guard let v = vendor else { return nil }
        var i = 0
        while i < v.count {
            let code = v[i]
            if code == 255 { return nil }
            if code == 0 { i += 1; continue }
            guard i + 1 < v.count else { return nil }
            let length = Int(v[i + 1])
            guard i + 2 + length <= v.count else { return nil }
            if code == 71, length == 4 { return Array(v[(i + 2)..<(i + 2 + length)]) }
            i += 2 + length
        }
        return nil
    }
}
