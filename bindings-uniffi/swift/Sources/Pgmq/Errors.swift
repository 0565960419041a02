// `PgmqError` in Swift's terms: `error.code` (lowerCamel cases whose raw values are the core's stable
// codes), `error.reason`; and `ReceiveErrorCallback`, an `onError` handler made from a closure.

extension PgmqError {
    /// The core's stable error codes, one for each case of `PgmqError`: `.queueNotFound` has the raw value
    /// `"queue_not_found"`, the code Rust, Python, Node and Kotlin report for the same failure (and
    /// `docs/errors.md` lists). Printed, a code is its raw value.
    public enum Code: String, CaseIterable, Hashable, Sendable, CustomStringConvertible {
        /// A queue name is invalid (`^[a-zA-Z0-9_-]{1,48}$`, no `dlq@` where a plain name is required).
        case invalidQueueName = "invalid_queue_name"
        /// An option or argument is out of range or malformed (a negative `Duration` too); nothing was written.
        case invalidOption = "invalid_option"
        /// No queue has this name.
        case queueNotFound = "queue_not_found"
        /// The ack, nack or extend came too late: the lease expired or the message is gone.
        case leaseLost = "lease_lost"
        /// The message was already acked, nacked or released through this handle.
        case alreadyFinished = "already_finished"
        /// Waiting for the outcome of a message sent with `track: false`.
        case notTracked = "not_tracked"
        /// The id is neither queued nor has an outcome recorded.
        case messageNotFound = "message_not_found"
        /// A request (`queue.request(_:)`) was dead-lettered, cancelled or expired instead of answered.
        case requestFailed = "request_failed"
        /// A bounded queue had no room for the whole send, at once or within its wait for room; nothing
        /// was written, and sending again once workers have finished messages may succeed.
        case queueFull = "queue_full"
        /// The schema is missing or older than this library: call `migrate()`.
        case schemaMissing = "schema_missing"
        /// `migrate()` found a schema of that name that is not pgmq's; nothing changed.
        case schemaConflict = "schema_conflict"
        /// The server could not be reached or the connection broke; trying again is safe.
        case connection = "connection"
        /// A lock wait or statement took too long; nothing changed, trying again later is safe. Or a
        /// request got no reply within its timeout, and was cancelled.
        case timeout = "timeout"
        /// PostgreSQL reported another error.
        case database = "database"
        /// The client or receiver was closed.
        case closed = "closed"
        /// A bug in pgmq (a caught panic): the operation did not complete.
        case `internal` = "internal"

        /// The core's code: `queue_not_found`.
        public var description: String { rawValue }
    }

    /// This error's code, to test without matching the case and its reason:
    ///
    ///     } catch let error as PgmqError where error.code == .queueNotFound {
    ///
    /// The one mapping from the generated cases; the `switch` has no `default`, so a case the bindings
    /// gain does not compile until it is added here.
    public var code: Code {
        switch self {
        case .InvalidQueueName: return .invalidQueueName
        case .InvalidOption: return .invalidOption
        case .QueueNotFound: return .queueNotFound
        case .LeaseLost: return .leaseLost
        case .AlreadyFinished: return .alreadyFinished
        case .NotTracked: return .notTracked
        case .MessageNotFound: return .messageNotFound
        case .RequestFailed: return .requestFailed
        case .QueueFull: return .queueFull
        case .SchemaMissing: return .schemaMissing
        case .SchemaConflict: return .schemaConflict
        case .Connection: return .connection
        case .Timeout: return .timeout
        case .Database: return .database
        case .Closed: return .closed
        case .Internal: return .internal
        }
    }

    /// What went wrong, in words (every case carries it; it never holds a password).
    public var reason: String {
        switch self {
        case .InvalidQueueName(let reason), .InvalidOption(let reason), .QueueNotFound(let reason),
             .LeaseLost(let reason), .AlreadyFinished(let reason), .NotTracked(let reason),
             .MessageNotFound(let reason), .RequestFailed(let reason, _, _), .QueueFull(let reason),
             .SchemaMissing(let reason),
             .SchemaConflict(let reason), .Connection(let reason), .Timeout(let reason), .Database(let reason),
             .Closed(let reason), .Internal(let reason):
            return reason
        }
    }
}

/// A `ReceiveErrorHandler` that calls a closure, for `ReceiveOptions(onError:)`:
///
///     let options = ReceiveOptions(onError: ReceiveErrorCallback { error in log.warning("pgmq: \(error.code): \(error.reason)") })
///
/// The closure gets each connection error a receiver recovered from (code `.connection`); the receiver
/// retries by itself and never ends on one. It runs on a thread of pgmq's own, one report at a time,
/// not in the receiving task: keep it short, or hand the error over (an `AsyncStream` continuation's
/// `yield`); a slow one holds up only the reports after it.
public final class ReceiveErrorCallback: ReceiveErrorHandler {
    private let body: @Sendable (PgmqError) -> Void

    /// A handler that calls `body` with each error.
    public init(_ body: @escaping @Sendable (PgmqError) -> Void) {
        self.body = body
    }

    /// Called by the receiver; calls the closure.
    public func onError(error: PgmqError) {
        body(error)
    }
}
