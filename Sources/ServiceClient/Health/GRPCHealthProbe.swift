// One `grpc.health.v1.Health/Check` call on a stream of the HTTP/2 pool, with the message encoded
// and decoded by hand (one string field out, one enum field back): the pool already speaks to the
// endpoint (h2c or TLS), so no second gRPC client stack is needed for a probe.
import GatewayCore
import NIOCore
import NIOHPACK
import NIOHTTP2

enum GRPCHealthProbe {
    /// Whether `address` reports SERVING for `serviceName` within `timeout`.
    static func check(
        _ address: UpstreamAddress, service: UpstreamService, serviceName: String, timeout: Duration,
        pool: HTTP2ConnectionPool, eventLoop: any EventLoop
    ) async -> Bool {
        let future = eventLoop.flatSubmit {
            pool.openStream(to: address, service: service, on: eventLoop).flatMap { stream in
                let promise = eventLoop.makePromise(of: Bool.self)
                let handler = ProbeHandler(promise: promise)
                do {
                    try stream.channel.pipeline.syncOperations.addHandler(handler)
                } catch {
                    stream.channel.close(promise: nil)
                    return eventLoop.makeSucceededFuture(false)
                }
                var headers = HPACKHeaders()
                headers.add(name: ":method", value: "POST")
                headers.add(name: ":scheme", value: address.url.scheme)
                headers.add(name: ":path", value: "/grpc.health.v1.Health/Check")
                headers.add(name: ":authority", value: address.url.authority)
                headers.add(name: "content-type", value: "application/grpc")
                headers.add(name: "te", value: "trailers")
                headers.add(name: "grpc-timeout", value: "\(max(1, timeout.nanoseconds / 1_000_000))m")
                stream.channel.write(HTTP2Frame.FramePayload.headers(.init(headers: headers)), promise: nil)
                let message = Array(serviceName.utf8)
                var body = stream.channel.allocator.buffer(capacity: message.count + 8)
                body.writeInteger(UInt8(0))
                body.writeInteger(UInt32(message.isEmpty ? 0 : message.count + 1 + varintSize(message.count)))
                if !message.isEmpty {
                    body.writeInteger(UInt8(0x0A))  // field 1, length-delimited
                    writeVarint(message.count, to: &body)
                    body.writeBytes(message)
                }
                stream.channel.writeAndFlush(
                    HTTP2Frame.FramePayload.data(.init(data: .byteBuffer(body), endStream: true)), promise: nil)
                let timer = eventLoop.scheduleTask(in: .nanoseconds(timeout.nanoseconds)) {
                    promise.succeed(false)
                    stream.channel.close(promise: nil)
                }
                return promise.futureResult.always { _ in timer.cancel() }
            }
        }
        return (try? await future.get()) ?? false
    }

    static func varintSize(_ value: Int) -> Int {
        var size = 1
        var rest = value >> 7
        while rest > 0 {
            size += 1
            rest >>= 7
        }
        return size
    }

    static func writeVarint(_ value: Int, to buffer: inout ByteBuffer) {
        var rest = UInt64(value)
        while rest >= 0x80 {
            buffer.writeInteger(UInt8(rest & 0x7F | 0x80))
            rest >>= 7
        }
        buffer.writeInteger(UInt8(rest))
    }

    /// Reads the response: SERVING needs `grpc-status: 0` and `status == 1` in the message.
    // Safety: lives in one stream pipeline; touched only on its event loop.
    final class ProbeHandler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTP2Frame.FramePayload
        let promise: EventLoopPromise<Bool>
        var body: ByteBuffer?
        var done = false

        init(promise: EventLoopPromise<Bool>) { self.promise = promise }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .headers(let headers):
                if let status = headers.headers.first(name: "grpc-status") {
                    finish(status == "0" && servingStatus() == 1, context: context)
                } else if let status = headers.headers.first(name: ":status"), status != "200" {
                    finish(false, context: context)
                }
            case .data(let data):
                if case .byteBuffer(var bytes) = data.data {
                    if body == nil { body = bytes } else { body!.writeBuffer(&bytes) }
                }
            default:
                break
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            finish(false, context: context)
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            finish(false, context: context)
        }

        private func finish(_ serving: Bool, context: ChannelHandlerContext) {
            guard !done else { return }
            done = true
            promise.succeed(serving)
            context.close(promise: nil)
        }

        /// The `status` field (1) of the one `HealthCheckResponse` message, or nil.
        private func servingStatus() -> Int? {
            guard var body, body.readInteger(as: UInt8.self) == 0, let length = body.readInteger(as: UInt32.self),
                let message = body.readBytes(length: Int(length))
            else { return nil }
            var index = 0
            while index + 1 < message.count {
                let key = message[index]
                index += 1
                guard key & 7 == 0 else { return nil }  // only varint fields expected
                var value = 0
                var shift = 0
                while index < message.count {
                    let byte = message[index]
                    index += 1
                    value |= Int(byte & 0x7F) << shift
                    shift += 7
                    if byte & 0x80 == 0 { break }
                }
                if key >> 3 == 1 { return value }
            }
            return message.isEmpty ? 0 : nil  // an empty message is status UNKNOWN (0)
        }
    }
}
