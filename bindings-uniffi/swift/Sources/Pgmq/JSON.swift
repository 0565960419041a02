// JSON bodies with `Codable`: `queue.send(order)` encodes an `Encodable` value and labels the message
// `content-type: application/json`, so that a reader in any language parses it (Python and Node
// `message.json()`); `message.decode(Order.self)` reads one back. Bytes (`Data`) stay bytes.

import Foundation

/// The attribute naming a body's encoding, and its value for a JSON body: the core's conventions
/// (`defaults().conventions`), the same in every language (Python `CONTENT_TYPE_ATTRIBUTE` and
/// `JSON_CONTENT_TYPE`, Node's).
public enum ContentType {
    /// The attribute: `"content-type"`.
    public static let attribute: String = defaults().conventions.contentTypeAttribute
    /// Its value for UTF-8 JSON: `"application/json"`.
    public static let json: String = defaults().conventions.jsonContentType

    /// Whether a message labelled `value` may be read as JSON, by the core's rule
    /// (`isJsonContentType(contentType:)`): no label, `application/json` with or without parameters
    /// (`; charset=utf-8`), or an `application/…+json` type. A label that is not text counts as none.
    static func allowsJSON(_ value: AttributeValue?) -> Bool {
        guard case .text(let label)? = value else { return isJsonContentType(contentType: nil) }
        return isJsonContentType(contentType: label)
    }

    /// `body` decoded from JSON unless `attributes` label it as another encoding (`ContentTypeError`).
    static func decodeJSON<T: Decodable>(
        _ type: T.Type, body: Data, attributes: [String: AttributeValue], decoder: JSONDecoder
    ) throws -> T {
        if let label = attributes[attribute], !allowsJSON(label) {
            let given: String
            if case .text(let text) = label { given = text } else { given = "\(label)" }
            throw ContentTypeError(contentType: given, expected: json)
        }
        return try decoder.decode(type, from: body)
    }

    /// `attributes` with `content-type: application/json` added. `PgmqError.InvalidOption` if they name
    /// another content type: the bytes are JSON, so is their label (send `Data` to label bytes yourself).
    static func labelledJSON(_ attributes: [String: AttributeValue]) throws -> [String: AttributeValue] {
        guard let given = attributes[attribute] else {
            var labelled = attributes
            labelled[attribute] = .text(value: json)
            return labelled
        }
        if given == .text(value: json) { return attributes }
        throw PgmqError.InvalidOption(
            reason: "invalid option: attribute \(attribute)=\(given), but the body is JSON (\(json)); "
                + "send Data to label bytes yourself")
    }
}

/// `message.decode(_:decoder:)` was called on a message whose `content-type` attribute names another
/// encoding than JSON; the body was not parsed.
public struct ContentTypeError: Error, CustomStringConvertible {
    /// The message's `content-type` attribute: its text (or, for a value that is not text, the value
    /// printed).
    public let contentType: String
    /// The content type asked for: `application/json`.
    public let expected: String

    public var description: String {
        "the message's \(ContentType.attribute) is \(contentType), not \(expected)"
    }
}

extension OutgoingMessage {
    /// A message of a batch whose body is `value` encoded as JSON by `encoder`, labelled
    /// `content-type: application/json` (`PgmqError.InvalidOption` if `attributes` name another one);
    /// `after`: the earlier entries of the batch it depends on (`OutgoingMessage.after`). What the
    /// encoder throws (`EncodingError`) is thrown as it is.
    public init(
        json value: some Encodable,
        attributes: [String: AttributeValue] = [:],
        after: [Int32] = [],
        encoder: JSONEncoder = JSONEncoder()
    ) throws {
        try self.init(body: encoder.encode(value), attributes: ContentType.labelledJSON(attributes), after: after)
    }
}

extension Queue {
    /// Sends `value` as JSON, encoded by `encoder`, with the attribute `content-type: application/json`
    /// (added to `options`' attributes; `PgmqError.InvalidOption` if they name another content type).
    /// `Data` and `String` arguments take the byte and text paths instead (`send(_:options:)`); send a
    /// `[UInt8]` as `Data(bytes)` unless a JSON array of numbers is meant. What the encoder throws
    /// (`EncodingError`) is thrown as it is, and nothing is sent.
    @discardableResult
    public func send(
        _ value: some Encodable, options: SendOptions? = nil, encoder: JSONEncoder = JSONEncoder()
    ) async throws -> SentMessage {
        var labelled = options ?? SendOptions()
        labelled.attributes = try ContentType.labelledJSON(labelled.attributes)
        return try await send(body: encoder.encode(value), options: labelled)
    }

    /// Sends each value as JSON (`OutgoingMessage(json:)`), in one statement (`[Data]` and `[String]`
    /// take the byte and text paths instead).
    @discardableResult
    public func sendBatch<T: Encodable>(
        _ values: [T], options: SendOptions? = nil, encoder: JSONEncoder = JSONEncoder()
    ) async throws -> SentBatch {
        let messages = try values.map { try OutgoingMessage(json: $0, encoder: encoder) }
        return try await sendBatch(messages: messages, options: options)
    }
}

extension Message {
    /// The body decoded from JSON as a `T`, by `decoder`: `let order = try message.decode(Order.self)`.
    /// A message without a `content-type` attribute is decoded too (JSON sent as bytes);
    /// `ContentTypeError` if the attribute names another encoding; what the decoder throws
    /// (`DecodingError`) for a body that is not a `T` in JSON.
    public func decode<T: Decodable>(_ type: T.Type = T.self, decoder: JSONDecoder = JSONDecoder()) throws -> T {
        try ContentType.decodeJSON(type, body: body, attributes: attributes, decoder: decoder)
    }
}

extension PeekedMessage {
    /// The peeked body decoded from JSON as a `T`, as `Message.decode(_:decoder:)` does.
    public func decode<T: Decodable>(_ type: T.Type = T.self, decoder: JSONDecoder = JSONDecoder()) throws -> T {
        try ContentType.decodeJSON(type, body: body, attributes: attributes, decoder: decoder)
    }
}
