// Swift-style calls on `Client` and `Queue`: the name or body as the unlabeled first argument, and
// `@discardableResult` where the result is optional to use (`try await queue.send(data)` needs no `_ =`).
// Each delegates to the generated method of the same name.

import Foundation

extension Client {
    /// Connects (`Client.connect(dsn:options:)`) to the database of `dsn`, a URL or `key=value` string.
    public static func connect(_ dsn: String, options: ClientOptions? = nil) async throws -> Client {
        try await connect(dsn: dsn, options: options)
    }

    /// Creates the queue `name` (and its dead-letter queue, unless `options` says otherwise); `true` if
    /// it was created, `false` if it already existed (`createQueue(name:options:)`).
    @discardableResult
    public func createQueue(_ name: String, options: QueueOptions = QueueOptions()) async throws -> Bool {
        try await createQueue(name: name, options: options)
    }

    /// Deletes the queue `name` and its messages; `true` if it existed (`deleteQueue(name:)`).
    @discardableResult
    public func deleteQueue(_ name: String) async throws -> Bool {
        try await deleteQueue(name: name)
    }

    /// A handle on the queue `name` (`queue(name:)`); nothing is read until it is used.
    /// `PgmqError.InvalidQueueName` for a name the core refuses.
    public func queue(_ name: String) throws -> Queue {
        try queue(name: name)
    }
}

extension Queue {
    /// Sends `body` as it is (`send(body:options:)`); the handle awaits its outcome
    /// (`sent.completed()`). A `Data` argument always takes this path, a `String` the text one below;
    /// other `Encodable` values are sent as JSON (`send(_:options:encoder:)`).
    @discardableResult
    public func send(_ body: Data, options: SendOptions? = nil) async throws -> SentMessage {
        try await send(body: body, options: options)
    }

    /// Sends `text` as its UTF-8 bytes, with no content type (as Node and Kotlin send a string); readers
    /// get it as `message.text`. To send a JSON string, encode it: `OutgoingMessage(json:)`.
    @discardableResult
    public func send(_ text: String, options: SendOptions? = nil) async throws -> SentMessage {
        try await send(body: Data(text.utf8), options: options)
    }

    /// Sends the messages in one statement (`sendBatch(messages:options:)`).
    @discardableResult
    public func sendBatch(_ messages: [OutgoingMessage], options: SendOptions? = nil) async throws -> SentBatch {
        try await sendBatch(messages: messages, options: options)
    }

    /// Sends the bodies as they are, in one statement (`sendBatch(messages:options:)`); `options`'
    /// attributes are not used (each message of a batch carries its own: send `OutgoingMessage`s).
    @discardableResult
    public func sendBatch(_ bodies: [Data], options: SendOptions? = nil) async throws -> SentBatch {
        try await sendBatch(messages: bodies.map { OutgoingMessage(body: $0) }, options: options)
    }

    /// Sends the texts as their UTF-8 bytes, in one statement (`sendBatch(messages:options:)`).
    @discardableResult
    public func sendBatch(_ texts: [String], options: SendOptions? = nil) async throws -> SentBatch {
        try await sendBatch(messages: texts.map { OutgoingMessage(body: Data($0.utf8)) }, options: options)
    }

    /// Cancels the messages `ids` (`cancel(ids:)`): queued ones are never delivered, held ones are
    /// signalled to their holder. Returns the ids found.
    @discardableResult
    public func cancel(_ ids: [String]) async throws -> [String] {
        try await cancel(ids: ids)
    }
}
