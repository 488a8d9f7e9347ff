// Client idle timeout on the REST gateway's HTTP/2 connections (h2c and TLS): a connection with no
// open stream for `limits.clientIdleTimeout` is closed (closing with no stream open loses nothing;
// clients open a new connection). Streams are counted from NIOHTTP2's stream events. Hand-written:
// NIOHTTP2 has no idle policy of its own (grpc-swift's connection manager is the gRPC listener's).
import GatewayCore
import NIOCore
import NIOHTTP2

final class HTTP2ClientIdleHandler: ChannelInboundHandler {
    typealias InboundIn = Any

    private let idle: TimeAmount
    private var open = 0
    private var idleSince = NIODeadline.now()
    private var timer: Scheduled<Void>?
    private var timerAt: NIODeadline?

    init(idle: Duration) { self.idle = .nanoseconds(idle.nanoseconds) }

    func handlerAdded(context: ChannelHandlerContext) { arm(context) }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is NIOHTTP2StreamCreatedEvent {
            open += 1
        } else if event is StreamClosedEvent {
            open = max(0, open - 1)
            if open == 0 {
                idleSince = .now()
                arm(context)
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func arm(_ context: ChannelHandlerContext) {
        guard open == 0 else { return }
        let at = idleSince + idle
        if let timerAt, timerAt <= at { return }
        timer?.cancel()
        timerAt = at
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: at) { [context] in
            self.timer = nil
            self.timerAt = nil
            guard self.open == 0 else { return }
            if NIODeadline.now() >= self.idleSince + self.idle {
                context.close(promise: nil)
            } else {
                self.arm(context)
            }
        }
    }
}
