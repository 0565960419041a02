// `Message` shortcuts that delegate to its lease: `message.ack()`, `message.nack(delay:error:)`,
// `message.extend(by:)`, `message.release()`, and the body as text. No logic of the queue lives here.

import Foundation

extension Message {
    /// Completes the message (`lease.ack()`). `PgmqError.AlreadyFinished` if it was already acked,
    /// nacked or released; `PgmqError.LeaseLost` if the lease expired and the message went to another
    /// worker.
    public func ack() async throws {
        try await lease.ack()
    }

    /// Fails this delivery (`lease.nack(options:)`): redelivered after `delay` (`nil`: the queue's
    /// backoff, or at once), or dead-lettered on the last attempt, keeping `error` as its `lastError`.
    /// `PgmqError.InvalidOption` for a negative delay.
    @available(macOS 13, iOS 16, tvOS 16, watchOS 9, *)
    public func nack(delay: Duration? = nil, error: String? = nil) async throws {
        let delayMs = try delay.map { try wholeMilliseconds($0, for: "delay") }
        try await lease.nack(options: NackOptions(delayMs: delayMs, error: error))
    }

    /// Fails this delivery with `options` (`lease.nack(options:)`).
    public func nack(options: NackOptions) async throws {
        try await lease.nack(options: options)
    }

    /// Extends the lease to `duration` from now (`lease.extend(by:)`).
    @available(macOS 13, iOS 16, tvOS 16, watchOS 9, *)
    public func extend(by duration: Duration) async throws {
        try await lease.extend(by: duration)
    }

    /// Hands the message back unfinished for prompt redelivery (`lease.release()`); does nothing once
    /// it is finished. A message dropped unfinished (its last reference gone) is released the same way.
    public func release() {
        lease.release()
    }

    /// Whether this handle can no longer ack or nack it (finished, released or lost).
    public var isFinished: Bool { lease.isFinished() }

    /// Whether the lease was lost (it expired and the message went to another worker, or it is gone).
    public var isLeaseLost: Bool { lease.isLeaseLost() }

    /// Whether `queue.cancel(ids:)` was called on the message while it was held.
    public var isCancelled: Bool { lease.isCancelled() }

    /// Returns `true` once the message is cancelled while held, `false` once it is finished or released.
    /// Cancelling the calling Task does not end the wait (uniffi does not cancel Swift calls): finish or
    /// release the message instead.
    public func cancelled() async -> Bool {
        await lease.cancelled()
    }

    /// The body decoded as UTF-8 (invalid bytes become U+FFFD).
    public var text: String { String(decoding: body, as: UTF8.self) }
}
