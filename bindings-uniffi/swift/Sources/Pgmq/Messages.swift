// `queue.messages()`: a queue's messages as an `AsyncSequence`, over a `Receiver`, which Task
// cancellation closes (uniffi does not cancel a pending Swift call by itself).

extension Queue {
    /// The queue's messages, one per iteration:
    ///
    ///     for try await message in queue.messages() {
    ///         try await handle(message.body)
    ///         try await message.ack()
    ///     }
    ///
    /// Each loop (each `makeAsyncIterator()`) gets a receiver of its own, made with `options` when the
    /// loop asks for its first message; what `queue.receiver(options:)` throws (`PgmqError.InvalidOption`
    /// for a batch size of 0) is thrown there. A lost connection never ends the loop: the receiver retries
    /// (see `onError`).
    ///
    /// - A message the loop body neither finishes (`ack()`, `nack()`) nor keeps is released for prompt
    ///   redelivery when its last reference goes, at the end of its iteration at the latest.
    /// - A message the body keeps (hands to another Task, appends to a batch) stays leased, its lease
    ///   extended in the background, until it is finished, released or dropped there. The receiver holds
    ///   at most `options.batchSize` unfinished messages: with that many kept, the loop waits for one to be
    ///   finished before it gets the next, so `batchSize` bounds the messages in flight.
    /// - The loop ends (the sequence returns `nil`) when the client is closed, and when the Task running it
    ///   is cancelled: cancellation closes the receiver, which ends a pending wait at once. A message that
    ///   arrives as the Task is cancelled is released, not handed out.
    /// - When the loop ends, however it ends (`break`, `return`, a thrown error, cancellation), the receiver
    ///   is closed, and what it had leased but not handed out yet (with `batchSize` > 1) is released.
    public func messages(_ options: ReceiveOptions = ReceiveOptions()) -> MessageSequence {
        MessageSequence(queue: self, options: options)
    }

    /// `messages(_:)` with `onError` told of each connection error the receiver recovered from (in place
    /// of `options.onError`; see `ReceiveErrorCallback` for where it runs).
    public func messages(
        _ options: ReceiveOptions = ReceiveOptions(), onError: @escaping @Sendable (PgmqError) -> Void
    ) -> MessageSequence {
        var withHandler = options
        withHandler.onError = ReceiveErrorCallback(onError)
        return MessageSequence(queue: self, options: withHandler)
    }
}

/// The messages of a queue (`queue.messages()`): each iteration receives from a receiver of its own.
public struct MessageSequence: AsyncSequence {
    public typealias Element = Message

    let queue: Queue
    let options: ReceiveOptions

    public func makeAsyncIterator() -> Iterator {
        Iterator(MessageIteration(queue: queue, options: options))
    }

    /// One loop over the messages; dropping it (the loop ended) closes its receiver.
    public struct Iterator: AsyncIteratorProtocol {
        private let iteration: MessageIteration

        init(_ iteration: MessageIteration) {
            self.iteration = iteration
        }

        /// The next message, or `nil` once the client is closed or the Task cancelled.
        public mutating func next() async throws -> Message? {
            try await iteration.next()
        }
    }
}

/// The state of one loop: its receiver, made on the first `next()` and closed when the loop ends. A
/// class, so that the loop's end (the iterator dropped) closes the receiver in `deinit`. Used by one Task
/// at a time, as an iterator is; only `Receiver.close()`, which is thread-safe, runs elsewhere (in the
/// cancellation handler).
final class MessageIteration {
    private let queue: Queue
    private let options: ReceiveOptions
    private var receiver: Receiver?
    private var finished = false

    init(queue: Queue, options: ReceiveOptions) {
        self.queue = queue
        self.options = options
    }

    func next() async throws -> Message? {
        if finished { return nil }
        let receiver: Receiver
        do {
            receiver = try openReceiver()
        } catch {
            finish()
            throw error
        }
        let message: Message?
        do {
            message = try await withTaskCancellationHandler {
                try await receiver.next()
            } onCancel: {
                receiver.close() // the pending next() returns nil, and releases what it had leased
            }
        } catch {
            finish()
            throw error
        }
        guard let delivered = message, !Task.isCancelled else {
            message?.lease.release()
            finish()
            return nil
        }
        return delivered
    }

    private func openReceiver() throws -> Receiver {
        if let open = receiver { return open }
        let made: Receiver = try queue.receiver(options: options)
        receiver = made
        return made
    }

    private func finish() {
        finished = true
        receiver?.close()
        receiver = nil
    }

    deinit {
        receiver?.close()
    }
}
