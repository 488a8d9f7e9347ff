// The files the gateway serves to browsers, embedded in the binary (SwiftPM `embedInCode`), so a
// websocket-gateway copied on its own still serves them: the browser SDK at /sdk/portico-ws.js and the
// demo chat page at /demo/chat.
import GatewayHTTP
import HTTPTypes
import Hummingbird
import NIOCore

enum StaticAssets {
    static let sdkPath = "/sdk/portico-ws.js"
    static let chatPath = "/demo/chat"

    static func register(on router: Router<GatewayRequestContext>) {
        let sdk = ByteBuffer(bytes: PackageResources.portico_ws_js)
        let chat = ByteBuffer(bytes: PackageResources.chat_html)
        router.get(RouterPath(sdkPath)) { request, context in
            try await named("sdk", request, context) { asset(sdk, type: "text/javascript; charset=utf-8") }
        }
        router.get(RouterPath(chatPath)) { request, context in
            try await named("demo-chat", request, context) { asset(chat, type: "text/html; charset=utf-8") }
        }
    }

    private static func asset(_ body: ByteBuffer, type: String) -> Response {
        Response(
            status: .ok,
            headers: [.contentType: type, .cacheControl: "no-cache", .init("X-Content-Type-Options")!: "nosniff"],
            body: ResponseBody(byteBuffer: body))
    }
}
