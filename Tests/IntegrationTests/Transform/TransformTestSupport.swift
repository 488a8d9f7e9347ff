// Helpers for the body transformation tests: run a transformer over a string and read the result back.
import GatewayCore
import Testing

@testable import RESTGateway

/// Transforms `body` with `shape` and returns the output as text and its content type.
func applyTransform(
    _ shape: BodyShapeConfig, _ body: String, contentType: String? = "application/json",
    side: BodyTransformError.Side = .request, maxBodySize: Int = 1 << 20, maxDepth: Int = 64
) throws(BodyTransformError) -> (body: String, contentType: String?) {
    let transformer = BodyTransformer(shape, side: side, maxBodySize: maxBodySize, maxDepth: maxDepth)
    let result = try transformer.apply(Array(body.utf8), contentType: contentType)
    return (String(decoding: result.body, as: UTF8.self), result.contentType)
}

/// The error transforming `body` throws, or nil when it succeeds.
func transformFailure(
    _ shape: BodyShapeConfig, _ body: String, contentType: String? = "application/json",
    side: BodyTransformError.Side = .request, maxBodySize: Int = 1 << 20, maxDepth: Int = 64
) -> BodyTransformError? {
    do {
        _ = try applyTransform(
            shape, body, contentType: contentType, side: side, maxBodySize: maxBodySize, maxDepth: maxDepth)
        return nil
    } catch {
        return error
    }
}

let expectedXMLDeclaration = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
