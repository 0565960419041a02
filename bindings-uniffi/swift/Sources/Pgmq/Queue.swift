// Swift-style calls on `Client` and `Queue`: the name, body, bound or group as the unlabeled first
// argument, and `@discardableResult` where the result is optional to use (`try await queue.send(data)`
// needs no `_ =`).
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

    /// Cancels the messages of job group `group` (`SendOptions.group`) in every queue
    /// (`cancelGroup(group:)`): queued ones are never delivered, held ones are signalled to their
    /// holder. Returns the ids found; an unknown group is an empty one.
    @discardableResult
    public func cancelGroup(_ group: String) async throws -> [String] {
        try await cancelGroup(group: group)
    }

    /// Waits until every message of job group `group`, in every queue, has an outcome
    /// (`waitForGroup(group:)`); an empty or unknown group returns `[:]` at once.
    public func waitForGroup(_ group: String) async throws -> [String: Outcome] {
        try await waitForGroup(group: group)
    }

    /// Job group `group`'s messages in every queue, by state and by outcome (`groupStats(group:)`).
    public func groupStats(_ group: String) async throws -> GroupStats {
        try await groupStats(group: group)
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

    /// Bounds the queue to `max` messages, or with `nil` lifts its bound (`setMaxMessages(max:)`).
    public func setMaxMessages(_ max: UInt64?) async throws {
        try await setMaxMessages(max: max)
    }

    /// Cancels the messages of job group `group` in this queue only (`cancelGroup(group:)`); returns the
    /// ids found.
    @discardableResult
    public func cancelGroup(_ group: String) async throws -> [String] {
        try await cancelGroup(group: group)
    }

    /// Waits until every message of job group `group` in this queue has an outcome
    /// (`waitForGroup(group:)`).
    public func waitForGroup(_ group: String) async throws -> [String: Outcome] {
        try await waitForGroup(group: group)
    }

    /// Job group `group`'s messages in this queue, by state and by outcome (`groupStats(group:)`).
    public func groupStats(_ group: String) async throws -> GroupStats {
        try await groupStats(group: group)
    }
}
