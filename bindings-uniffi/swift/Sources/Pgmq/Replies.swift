// Results and request/reply in Swift's terms: `message.ack(result:contentType:)` and `message.ack(json:)`
// finish a message with a result; `reply.decode(T.self)` and `reply.text` read one; `queue.request(_:)`
// sends and waits, as bytes, text or `Codable` JSON, with a `Duration` timeout; `sent.reply(pollInterval:)`
// and `batch.replies(pollInterval:)`. Each delegates to the generated method it names.

import Foundation

extension Message {
    /// Completes the message with `result` (`lease.ackWithResult(result:contentType:)`): as `ack()`, and
    /// the outcome record keeps the bytes and their `contentType` (`nil`: unlabelled) for the queue's
    /// retention period, for whoever waits for the completion (`sent.reply()`, `queue.request(_:)`, in
    /// any language). A message sent with `track: false` keeps no result (a plain ack); one cancelled
    /// while held keeps its `cancelled` outcome and no result. `PgmqError.InvalidOption` for a result over
    /// `defaults().limits.maxSendBytes` or a content type that is empty or holds a NUL: nothing is done,
    /// and the message stays held.
    public func ack(result: Data, contentType: String? = nil) async throws {
        try await lease.ackWithResult(result: result, contentType: contentType)
    }

    /// Completes the message with `value` encoded as JSON by `encoder` as its result, labelled
    /// `application/json`, which `reply.decode(_:)` reads (`reply.json()` in the other languages); otherwise as
    /// `ack(result:contentType:)`. What the encoder throws (`EncodingError`) is thrown as it is, and the
    /// message stays held.
    public func ack(json value: some Encodable, encoder: JSONEncoder = JSONEncoder()) async throws {
        try await lease.ackWithResult(result: encoder.encode(value), contentType: ContentType.json)
    }
}

extension Reply {
    /// The result decoded as UTF-8 (invalid bytes become U+FFFD); `nil` when there is none.
    public var text: String? { result.map { String(decoding: $0, as: UTF8.self) } }

    /// The result decoded from JSON as a `T`, by `decoder`, under the rule of `message.decode(_:)`: an
    /// unlabelled result is decoded too, one labelled with another encoding is `ContentTypeError`.
    /// `PgmqError.InvalidOption` when there is no result (acked without one, or `outcome` is not
    /// `.completed`); what the decoder throws (`DecodingError`) for a result that is not a `T`.
    public func decode<T: Decodable>(_ type: T.Type = T.self, decoder: JSONDecoder = JSONDecoder()) throws -> T {
        guard let bytes = result else {
            throw PgmqError.InvalidOption(
                reason: "invalid option: reply.decode(): the message finished (\(outcome)) without a result")
        }
        var label: [String: AttributeValue] = [:]
        if let contentType = contentType {
            label[ContentType.attribute] = .text(value: contentType)
        }
        return try ContentType.decodeJSON(type, body: bytes, attributes: label, decoder: decoder)
    }
}

@available(macOS 13, iOS 16, tvOS 16, watchOS 9, *)
extension Queue {
    /// Sends `body` as it is, with `attributes` (tracked), and waits for its reply
    /// (`request(message:timeoutMs:)`): request/reply over a queue. A worker in any language answers with
    /// `message.ack(result:)` / `message.ack(json:)`; the reply's outcome is then `.completed`, its
    /// result the worker's (`nil` if it acked without one).
    ///
    /// Throws, besides what `send` throws: `PgmqError.RequestFailed(reason:id:outcome:)` when the request
    /// was dead-lettered, cancelled or expired instead; `PgmqError.Timeout` when no reply came within
    /// `timeout` (`nil`: `defaults().request.timeoutMs`, 30 s), the request then being cancelled (a
    /// worker holding it is signalled, its late reply dropped), unless it finished meanwhile, whose reply
    /// is then returned; `PgmqError.InvalidOption` for a timeout of 0, a negative one or one over 100
    /// years, before anything is sent. Cancelling the calling Task does not end the wait (uniffi does not
    /// cancel Swift calls): `timeout` bounds it.
    @discardableResult
    public func request(
        _ body: Data, attributes: [String: AttributeValue] = [:], timeout: Duration? = nil
    ) async throws -> Reply {
        let timeoutMs = try timeout.map { try wholeMilliseconds($0, for: "timeout") }
        return try await request(message: OutgoingMessage(body: body, attributes: attributes), timeoutMs: timeoutMs)
    }

    /// Sends `text` as its UTF-8 bytes, unlabelled (as `send(_:)` sends a `String`), and waits for its
    /// reply, as `request(_:attributes:timeout:)` does for `Data`.
    @discardableResult
    public func request(
        _ text: String, attributes: [String: AttributeValue] = [:], timeout: Duration? = nil
    ) async throws -> Reply {
        try await request(Data(text.utf8), attributes: attributes, timeout: timeout)
    }

    /// Sends `value` as JSON, encoded by `encoder` and labelled `content-type: application/json`
    /// (`OutgoingMessage(json:)`: `PgmqError.InvalidOption` if `attributes` name another content type),
    /// and waits for its reply, as `request(_:attributes:timeout:)` does for `Data`:
    ///
    ///     let reply = try await queue.request(Sum(a: 2, b: 3), timeout: .seconds(5))
    ///     let total = try reply.decode(Int.self)
    @discardableResult
    public func request(
        _ value: some Encodable, attributes: [String: AttributeValue] = [:], timeout: Duration? = nil,
        encoder: JSONEncoder = JSONEncoder()
    ) async throws -> Reply {
        let timeoutMs = try timeout.map { try wholeMilliseconds($0, for: "timeout") }
        let message = try OutgoingMessage(json: value, attributes: attributes, encoder: encoder)
        return try await request(message: message, timeoutMs: timeoutMs)
    }
}

@available(macOS 13, iOS 16, tvOS 16, watchOS 9, *)
extension SentMessage {
    /// `reply(pollIntervalMs:)` with the safety-net re-read interval as a `Duration`.
    /// `PgmqError.InvalidOption` for a negative one (the core refuses 0).
    public func reply(pollInterval: Duration) async throws -> Reply {
        try await reply(pollIntervalMs: wholeMilliseconds(pollInterval, for: "pollInterval"))
    }
}

@available(macOS 13, iOS 16, tvOS 16, watchOS 9, *)
extension SentBatch {
    /// `replies(pollIntervalMs:)` with the safety-net re-read interval as a `Duration`.
    /// `PgmqError.InvalidOption` for a negative one (the core refuses 0).
    public func replies(pollInterval: Duration) async throws -> [String: Reply] {
        try await replies(pollIntervalMs: wholeMilliseconds(pollInterval, for: "pollInterval"))
    }
}
