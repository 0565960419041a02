// Swift tests of the pgmq bindings (uniffi): the core scenarios of the Kotlin suite, and the hand-written
// layer (Sources/Pgmq: `layerTests()`), against a real PostgreSQL ($DATABASE_URL). run-tests.sh compiles
// this file together with the generated target/uniffi/swift/Pgmq.swift and Sources/Pgmq/*.swift into one
// executable (module PgmqSwiftTests, the C module PgmqFFI from PgmqFFI.modulemap) linked with
// libpgmq_uniffi, and runs it. It prints one line per test and, last,
// `swift: N passed, M failed`; it exits non-zero when a test failed.
//
// Every wait is bounded (`within`), and a watchdog ends the whole run. Note: a Swift Task cancelled
// while it awaits a pgmq call does not cancel the Rust future (uniffi does not propagate Swift
// cancellation), which is why `within` abandons a timed-out call instead of waiting for it, and why a
// pending `next()` is ended with `receiver.close()`.

import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
// When the bindings are a module of their own (an XCFramework or a SwiftPM target) rather than
// compiled into this executable.
#if canImport(Pgmq)
import Pgmq
#endif

// ---- a small harness -------------------------------------------------------------------------------

struct Failure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

func say(_ line: String) {
    print(line)
    fflush(stdout)
}

func check(_ condition: Bool, _ what: @autoclosure () -> String, line: UInt = #line) throws {
    if !condition { throw Failure("line \(line): \(what())") }
}

func checkEqual<T: Equatable>(_ actual: T, _ expected: T, _ what: String, line: UInt = #line) throws {
    if actual != expected { throw Failure("line \(line): \(what): expected \(expected), got \(actual)") }
}

/// The name of a `PgmqError` case (the core's error kinds), so tests can say which one they expect.
func kind(of error: PgmqError) -> String {
    switch error {
    case .InvalidQueueName: return "InvalidQueueName"
    case .InvalidOption: return "InvalidOption"
    case .QueueNotFound: return "QueueNotFound"
    case .LeaseLost: return "LeaseLost"
    case .AlreadyFinished: return "AlreadyFinished"
    case .NotTracked: return "NotTracked"
    case .MessageNotFound: return "MessageNotFound"
    case .RequestFailed: return "RequestFailed"
    case .QueueFull: return "QueueFull"
    case .SchemaMissing: return "SchemaMissing"
    case .SchemaConflict: return "SchemaConflict"
    case .Connection: return "Connection"
    case .Timeout: return "Timeout"
    case .Database: return "Database"
    case .Closed: return "Closed"
    case .Internal: return "Internal"
    }
}

/// Runs `operation`, which must throw the `PgmqError` case named `expected`.
func expectError<T>(
    _ expected: String, _ what: String, line: UInt = #line, _ operation: () async throws -> T
) async throws {
    do {
        _ = try await operation()
    } catch let error as PgmqError {
        if kind(of: error) == expected { return }
        throw Failure("line \(line): \(what): expected PgmqError.\(expected), got \(error)")
    }
    throw Failure("line \(line): \(what): expected PgmqError.\(expected), nothing was thrown")
}

/// Set once, by whichever finishes first.
final class Once: @unchecked Sendable {
    private let lock = NSLock()
    private var done = false

    func claim() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if done { return false }
        done = true
        return true
    }
}

/// The result of `operation`, or a `Failure` after `seconds`. On a timeout the operation is left
/// running (its Task is cancelled, but uniffi does not cancel the Rust future behind it).
func within<T>(
    _ seconds: Double, _ what: String, _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
        let once = Once()
        let work = Task {
            do {
                let value = try await operation()
                if once.claim() { continuation.resume(returning: value) }
            } catch {
                if once.claim() { continuation.resume(throwing: error) }
            }
        }
        Task {
            try? await Task.sleep(nanoseconds: UInt64(seconds * 1_000_000_000))
            if once.claim() {
                work.cancel()
                continuation.resume(throwing: Failure("\(what): not done within \(seconds) s"))
            }
        }
    }
}

/// Polls `condition` every 50 ms until it holds, for at most `seconds`.
func eventually(_ what: String, seconds: Double = 5, _ condition: () async throws -> Bool) async throws {
    let deadline = Date().addingTimeInterval(seconds)
    while true {
        if try await condition() { return }
        if Date() > deadline { throw Failure("not within \(seconds) s: \(what)") }
        try await Task.sleep(nanoseconds: 50_000_000)
    }
}

func snooze(ms: UInt64) async throws {
    try await Task.sleep(nanoseconds: ms * 1_000_000)
}

/// Milliseconds on a monotonic clock.
func nowMs() -> Double {
    Double(DispatchTime.now().uptimeNanoseconds) / 1_000_000
}

/// The next message of `receiver` (a nil from `next()` fails the test), within `seconds`.
func receive(_ receiver: Receiver, _ what: String = "a message", seconds: Double = 10) async throws -> Message {
    let message = try await within(seconds, "receiver.next() for \(what)") { try await receiver.next() }
    guard let message = message else {
        throw Failure("receiver.next() returned nil while waiting for \(what)")
    }
    return message
}

func text(_ data: Data) -> String {
    String(decoding: data, as: UTF8.self)
}

/// The ids a set of concurrent receivers has seen.
actor Seen {
    private var ids: [String] = []

    func add(_ id: String) -> Int {
        ids.append(id)
        return ids.count
    }

    func all() -> [String] { ids }
}

/// What every test gets: a connected, migrated client, and fresh queues deleted after the test.
final class TestContext: @unchecked Sendable {
    let client: Client
    let dsn: String
    private let lock = NSLock()
    private var names: [String] = []

    init(client: Client, dsn: String) {
        self.client = client
        self.dsn = dsn
    }

    /// A new queue with a random name (and its DLQ, unless `options` says otherwise).
    func freshQueue(_ options: QueueOptions = QueueOptions()) async throws -> Queue {
        let name = "swift-\(UUID().uuidString.lowercased().prefix(13))"
        let created = try await client.createQueue(name: name, options: options)
        try check(created, "createQueue(\(name)) returned false")
        remember(name)
        return try client.queue(name: name)
    }

    /// Deletes the queues of the test that just ran.
    func cleanup() async {
        for name in forgetAll() {
            _ = try? await client.deleteQueue(name: name)
        }
    }

    // The lock is taken in synchronous methods only (NSLock is not for async contexts).
    private func remember(_ name: String) {
        lock.lock()
        defer { lock.unlock() }
        names.append(name)
    }

    private func forgetAll() -> [String] {
        lock.lock()
        defer { lock.unlock() }
        let all = names
        names = []
        return all
    }
}

/// Passed and failed so far (read by the watchdog too).
final class Tally: @unchecked Sendable {
    private let lock = NSLock()
    private var passed = 0
    private var failed = 0

    func record(_ ok: Bool) {
        lock.lock()
        if ok { passed += 1 } else { failed += 1 }
        lock.unlock()
    }

    func summary(extraFailed: Int = 0) -> (passed: Int, failed: Int) {
        lock.lock()
        defer { lock.unlock() }
        return (passed, failed + extraFailed)
    }
}

// ---- the tests -------------------------------------------------------------------------------------

/// send -> next -> ack; the sender's completed() resolves to .completed.
func testSendReceiveAckCompletion(_ ctx: TestContext) async throws {
    let queue = try await ctx.freshQueue()
    let body = Data("hello from swift ✓ \u{0}\u{1}".utf8)
    let attributes: [String: AttributeValue] = [
        "kind": .text(value: "greeting"),
        "n": .int(value: 7),
        "ratio": .float(value: 2.5),
        "urgent": .bool(value: true),
        "none": .null,
    ]
    let sent = try await queue.send(body: body, options: SendOptions(attributes: attributes))
    let receiver = try queue.receiver()
    defer { receiver.close() }

    let message = try await receive(receiver)
    try checkEqual(message.id, sent.id(), "the received id")
    try checkEqual(message.body, body, "the body")
    try checkEqual(message.attributes, attributes, "the attributes")
    try checkEqual(message.deliveryAttempt, UInt32(1), "deliveryAttempt")
    try check(message.lastError == nil, "lastError of a first delivery: \(String(describing: message.lastError))")
    try check(message.deadLetterAttempts == nil, "deadLetterAttempts outside a DLQ")
    try check(abs(message.sentAt.timeIntervalSinceNow) < 60, "sentAt is now: \(message.sentAt)")
    try check(!message.lease.isFinished(), "a held lease is not finished")

    let held = try await queue.stats()
    try checkEqual(held.leased, UInt64(1), "stats.leased while held")

    try await message.lease.ack()
    let outcome = try await within(10, "sent.completed()") { try await sent.completed() }
    try checkEqual(outcome, Outcome.completed, "the outcome")
    try check(message.lease.isFinished(), "an acked lease is finished")
    try await expectError("AlreadyFinished", "a second ack") { try await message.lease.ack() }

    // The durable record says the same, to anyone asking by id.
    let recorded = try await within(10, "waitForCompletion") { try await queue.waitForCompletion(ids: [sent.id()]) }
    try checkEqual(recorded, [sent.id(): Outcome.completed], "waitForCompletion")
    let after = try await queue.stats()
    try checkEqual(after.messages, UInt64(0), "stats.messages after the ack")
}

/// Two receivers racing on one queue: every message is delivered exactly once.
func testTwoRacingReceivers(_ ctx: TestContext) async throws {
    let queue = try await ctx.freshQueue()
    let count = 40
    let batch = try await queue.sendBatch(messages: (0..<count).map { OutgoingMessage(body: Data("job \($0)".utf8)) })
    let sentIds = batch.ids()
    try checkEqual(sentIds.count, count, "batch.ids().count")

    let receivers = try [queue.receiver(), queue.receiver()]
    let seen = Seen()
    let perReceiver = try await within(30, "two receivers draining \(count) messages") { () async throws -> [Int] in
        try await withThrowingTaskGroup(of: Int.self, returning: [Int].self) { group in
            for receiver in receivers {
                group.addTask {
                    var mine = 0
                    while let message = try await receiver.next() {
                        try await message.lease.ack()
                        mine += 1
                        if await seen.add(message.id) >= count {
                            for r in receivers { r.close() } // the other one's pending next() returns nil
                        }
                    }
                    return mine
                }
            }
            var counts: [Int] = []
            for try await n in group { counts.append(n) }
            return counts
        }
    }
    let ids = await seen.all()
    try checkEqual(ids.count, count, "messages received")
    try checkEqual(Set(ids).count, count, "distinct messages received (a duplicate delivery?)")
    try checkEqual(Set(ids), Set(sentIds), "the received ids")
    try checkEqual(perReceiver.reduce(0, +), count, "the receivers' counts \(perReceiver)")

    let outcomes = try await within(10, "batch.completed()") { try await batch.completed() }
    try checkEqual(outcomes.count, count, "outcomes")
    try check(outcomes.values.allSatisfy { $0 == .completed }, "every outcome is completed: \(outcomes.values)")
}

/// A nacked message comes back with deliveryAttempt + 1 and the nack's error; a nack delay is honoured.
func testNackRedelivers(_ ctx: TestContext) async throws {
    let queue = try await ctx.freshQueue()
    let sent = try await queue.send(body: Data("retry me".utf8))
    let receiver = try queue.receiver()
    defer { receiver.close() }

    let first = try await receive(receiver, "the first delivery")
    try checkEqual(first.deliveryAttempt, UInt32(1), "the first deliveryAttempt")
    try await first.lease.nack(options: NackOptions(error: "try again"))
    try check(first.lease.isFinished(), "a nacked lease is finished")

    let second = try await receive(receiver, "the redelivery")
    try checkEqual(second.id, sent.id(), "the redelivered id")
    try checkEqual(second.deliveryAttempt, UInt32(2), "the second deliveryAttempt")
    try checkEqual(second.lastError, "try again", "lastError")
    try checkEqual(text(second.body), "retry me", "the body")

    let nackedAt = nowMs()
    try await second.lease.nack(options: NackOptions(delayMs: 700, error: "later"))
    let third = try await receive(receiver, "the delayed redelivery")
    let waited = nowMs() - nackedAt
    try checkEqual(third.deliveryAttempt, UInt32(3), "the third deliveryAttempt")
    try check(waited >= 700, "redelivered \(Int(waited)) ms after a nack with delayMs 700")

    try await third.lease.ack()
    let outcome = try await within(10, "sent.completed()") { try await sent.completed() }
    try checkEqual(outcome, Outcome.completed, "the outcome")
}

/// After maxDeliveryAttempts failures the message moves to dlq@<name>, whole, with its last error.
func testDeadLetterAfterMaxAttempts(_ ctx: TestContext) async throws {
    let queue = try await ctx.freshQueue(QueueOptions(maxDeliveryAttempts: 2))
    let attributes: [String: AttributeValue] = ["kind": .text(value: "poison")]
    let sent = try await queue.send(body: Data("poison".utf8), options: SendOptions(attributes: attributes))
    let receiver = try queue.receiver()
    defer { receiver.close() }

    for attempt in 1...2 {
        let message = try await receive(receiver, "delivery \(attempt)")
        try checkEqual(message.id, sent.id(), "the id of delivery \(attempt)")
        try checkEqual(message.deliveryAttempt, UInt32(attempt), "deliveryAttempt")
        try await message.lease.nack(options: NackOptions(error: "fail \(attempt)"))
    }
    let outcome = try await within(10, "sent.completed()") { try await sent.completed() }
    try checkEqual(outcome, Outcome.deadLettered, "the outcome")
    let stats = try await queue.stats()
    try checkEqual(stats.messages, UInt64(0), "stats.messages")
    try checkEqual(stats.deadLettered, UInt64(1), "stats.deadLettered")

    let dlq = try ctx.client.queue(name: dlqName(name: queue.name()))
    try checkEqual(dlq.name(), "dlq@\(queue.name())", "the DLQ's name")
    let dlqReceiver = try dlq.receiver()
    defer { dlqReceiver.close() }
    let dead = try await receive(dlqReceiver, "the dead-lettered message")
    try checkEqual(dead.id, sent.id(), "the dead-lettered id")
    try checkEqual(text(dead.body), "poison", "the dead-lettered body")
    try checkEqual(dead.attributes, attributes, "the dead-lettered attributes")
    try checkEqual(dead.deadLetterAttempts, UInt32(2), "deadLetterAttempts")
    try checkEqual(dead.lastError, "fail 2", "the dead-lettered lastError")
    try checkEqual(dead.deliveryAttempt, UInt32(1), "the first delivery in the DLQ")
    try await dead.lease.ack()
}

/// A message sent with delayMs is scheduled, and delivered no earlier than its time.
func testDelayedDeliveryNeverEarly(_ ctx: TestContext) async throws {
    let queue = try await ctx.freshQueue()
    let sentAt = nowMs()
    let sent = try await queue.send(body: Data("later".utf8), options: SendOptions(delayMs: 1500))
    let stats = try await queue.stats()
    try checkEqual(stats.scheduled, UInt64(1), "stats.scheduled")
    try checkEqual(stats.ready, UInt64(0), "stats.ready")

    let receiver = try queue.receiver()
    defer { receiver.close() }
    let message = try await receive(receiver, "the delayed message")
    let waited = nowMs() - sentAt
    try checkEqual(message.id, sent.id(), "the delayed message's id")
    try check(waited >= 1500, "delivered \(Int(1500 - waited)) ms early")
    try check(waited < 6000, "delivered \(Int(waited)) ms after the send")
    try await message.lease.ack()
}

/// The same with scheduleAt (a Date).
func testScheduledDeliveryNeverEarly(_ ctx: TestContext) async throws {
    let queue = try await ctx.freshQueue()
    let due = Date().addingTimeInterval(1.5)
    let sent = try await queue.send(body: Data("at".utf8), options: SendOptions(scheduleAt: due))
    let receiver = try queue.receiver()
    defer { receiver.close() }
    let message = try await receive(receiver, "the scheduled message")
    let early = due.timeIntervalSinceNow
    try checkEqual(message.id, sent.id(), "the scheduled message's id")
    try check(early <= 0, "delivered \(Int(early * 1000)) ms before its scheduleAt")
    try check(early > -5, "delivered \(Int(-early * 1000)) ms after its scheduleAt")
    try await message.lease.ack()
}

/// cancel() of a queued message: never delivered, completed() is .cancelled.
func testCancelQueued(_ ctx: TestContext) async throws {
    let queue = try await ctx.freshQueue()
    let cancelMe = try await queue.send(body: Data("cancel me".utf8))
    let keepMe = try await queue.send(body: Data("keep me".utf8))
    let scheduled = try await queue.send(body: Data("scheduled".utf8), options: SendOptions(delayMs: 60_000))

    let found = try await queue.cancel(ids: [cancelMe.id(), scheduled.id(), UUID().uuidString.lowercased()])
    try checkEqual(Set(found), Set([cancelMe.id(), scheduled.id()]), "the ids cancel() found")
    let outcome = try await within(10, "completed() of the cancelled message") { try await cancelMe.completed() }
    try checkEqual(outcome, Outcome.cancelled, "the cancelled message's outcome")
    let scheduledOutcome = try await within(10, "completed() of the cancelled scheduled message") {
        try await scheduled.completed()
    }
    try checkEqual(scheduledOutcome, Outcome.cancelled, "the cancelled scheduled message's outcome")

    let receiver = try queue.receiver()
    defer { receiver.close() }
    // The cancelled one was first in line: the first delivery is the second message.
    let message = try await receive(receiver)
    try checkEqual(message.id, keepMe.id(), "the first delivery after the cancel")
    try await message.lease.ack()
    try await eventually("the queue to be empty") { try await queue.stats().messages == 0 }
}

/// cancel() of a held message: lease.cancelled() returns true, isCancelled() too, the ack changes
/// nothing, completed() is .cancelled, and it is never redelivered.
func testCancelInFlight(_ ctx: TestContext) async throws {
    let queue = try await ctx.freshQueue(QueueOptions(ackDeadlineMs: 3000))
    let sent = try await queue.send(body: Data("in flight".utf8))
    let receiver = try queue.receiver()
    defer { receiver.close() }
    let held = try await receive(receiver)
    try checkEqual(held.id, sent.id(), "the held id")
    try check(!held.lease.isCancelled(), "isCancelled() before the cancel")

    let lease = held.lease
    let watcher = Task { await lease.cancelled() }
    try await snooze(ms: 100)
    let found = try await queue.cancel(ids: [sent.id()])
    try checkEqual(found, [sent.id()], "the ids cancel() found")
    let fired = try await within(5, "lease.cancelled()") { await watcher.value }
    try check(fired, "lease.cancelled() returned false")
    try check(lease.isCancelled(), "isCancelled() after the cancel")

    try await lease.ack() // succeeds and changes nothing
    let outcome = try await within(10, "sent.completed()") { try await sent.completed() }
    try checkEqual(outcome, Outcome.cancelled, "the outcome")
    try await eventually("the cancelled message to be gone") { try await queue.stats().messages == 0 }
    let stats = try await queue.stats()
    try checkEqual(stats.deadLettered, UInt64(0), "stats.deadLettered")
}

/// receiver.close() ends a pending next() with nil; later next() calls return nil at once; nothing is
/// lost: a message sent afterwards goes to another receiver.
func testReceiverCloseEndsPendingNext(_ ctx: TestContext) async throws {
    let queue = try await ctx.freshQueue()
    let receiver = try queue.receiver()
    let pending = Task { try await receiver.next() }
    try await snooze(ms: 300) // let it reach the wait
    try check(!receiver.isClosed(), "isClosed() before close()")
    receiver.close()
    let result = try await within(5, "the pending next() after receiver.close()") { try await pending.value }
    try check(result == nil, "the pending next() returned a message after close()")
    try check(receiver.isClosed(), "isClosed() after close()")
    let again = try await within(5, "next() on a closed receiver") { try await receiver.next() }
    try check(again == nil, "next() on a closed receiver returned a message")

    let sent = try await queue.send(body: Data("after close".utf8))
    let other = try queue.receiver()
    defer { other.close() }
    let message = try await receive(other, "the message sent after the close")
    try checkEqual(message.id, sent.id(), "the id")
    try await message.lease.ack()
}

/// Cancelling the Swift Task that awaits next() does not cancel the Rust future (uniffi does not
/// propagate Swift cancellation); receiver.close() is what ends it.
func testTaskCancellationNeedsReceiverClose(_ ctx: TestContext) async throws {
    let queue = try await ctx.freshQueue()
    let receiver = try queue.receiver()
    let pending = Task { try await receiver.next() }
    try await snooze(ms: 300)
    pending.cancel()
    try await snooze(ms: 100)
    receiver.close()
    let ended = try await within(5, "the cancelled Task's next() after receiver.close()") { () async throws -> Bool in
        do {
            return try await pending.value == nil
        } catch is CancellationError {
            return true // should uniffi ever propagate cancellation
        }
    }
    try check(ended, "the cancelled Task's next() returned a message")
    // Nothing was leased on its behalf.
    _ = try await queue.send(body: Data("x".utf8))
    let other = try queue.receiver()
    defer { other.close() }
    let message = try await receive(other)
    try checkEqual(message.deliveryAttempt, UInt32(1), "deliveryAttempt")
    try await message.lease.ack()
}

/// client.close() ends pending next() calls with nil; calls on the closed client throw Closed.
func testClientCloseEndsReceivers(_ ctx: TestContext) async throws {
    let queue = try await ctx.freshQueue()
    let client = try await Client.connect(dsn: ctx.dsn, options: ClientOptions(poolSize: 2))
    let theirs = try client.queue(name: queue.name())
    let receiver = try theirs.receiver()
    let pending = Task { try await receiver.next() }
    try await snooze(ms: 300)
    try check(!client.isClosed(), "isClosed() before close()")
    try await within(10, "client.close()") { await client.close() }
    try check(client.isClosed(), "isClosed() after close()")
    let result = try await within(5, "the pending next() after client.close()") { try await pending.value }
    try check(result == nil, "the pending next() returned a message after client.close()")
    try await expectError("Closed", "send on a closed client") { try await theirs.send(body: Data("x".utf8)) }
}

/// A message of testBatchConsumedWithoutDuplicates: attribute `i` and body `item <i>` agree.
func checkBatchItem(_ message: Message, _ indices: inout [Int64]) throws {
    guard case .int(let i)? = message.attributes["i"] else {
        throw Failure("message \(message.id) has no integer attribute i: \(message.attributes)")
    }
    try checkEqual(text(message.body), "item \(i)", "the body of item \(i)")
    indices.append(i)
}

/// A batch sent in one statement and leased ten at a time: each message once, attributes intact.
func testBatchConsumedWithoutDuplicates(_ ctx: TestContext) async throws {
    let queue = try await ctx.freshQueue()
    let count = 25
    let messages = (0..<count).map { i in
        OutgoingMessage(body: Data("item \(i)".utf8), attributes: ["i": .int(value: Int64(i))])
    }
    let batch = try await queue.sendBatch(messages: messages)
    let ids = batch.ids()
    try checkEqual(ids.count, count, "batch.ids().count")
    try checkEqual(Set(ids).count, count, "distinct batch ids")

    let receiver = try queue.receiver(options: ReceiveOptions(batchSize: 10))
    defer { receiver.close() }
    var received: [String] = []
    var indices: [Int64] = []

    let first = try await within(10, "nextBatch()") { try await receiver.nextBatch() }
    try check((1...10).contains(first.count), "nextBatch() returned \(first.count) messages (batchSize 10)")
    for message in first {
        received.append(message.id)
        try checkBatchItem(message, &indices)
        try await message.lease.ack()
    }
    while received.count < count {
        let message = try await receive(receiver, "message \(received.count + 1) of \(count)")
        received.append(message.id)
        try checkBatchItem(message, &indices)
        try await message.lease.ack()
    }
    try checkEqual(Set(received).count, count, "distinct messages received (a duplicate delivery?)")
    try checkEqual(Set(received), Set(ids), "the received ids")
    try checkEqual(indices.sorted(), (0..<Int64(count)).map { $0 }, "the attributes of the received messages")

    let outcomes = try await within(10, "batch.completed()") { try await batch.completed() }
    try checkEqual(outcomes.count, count, "outcomes")
    try check(outcomes.values.allSatisfy { $0 == .completed }, "every outcome is completed: \(outcomes.values)")
    let stats = try await queue.stats()
    try checkEqual(stats.messages, UInt64(0), "stats.messages")
}

/// A filter picks messages by attribute.
func testFilter(_ ctx: TestContext) async throws {
    let queue = try await ctx.freshQueue()
    _ = try await queue.send(
        body: Data("report".utf8),
        options: SendOptions(attributes: ["kind": .text(value: "report"), "priority": .int(value: 9)]))
    let urgent = try await queue.send(
        body: Data("page".utf8),
        options: SendOptions(attributes: ["kind": .text(value: "alert"), "priority": .int(value: 9)]))
    _ = try await queue.send(
        body: Data("low".utf8),
        options: SendOptions(attributes: ["kind": .text(value: "alert"), "priority": .int(value: 1)]))
    let filter = try Filter.and(
        left: .eq(key: "kind", value: .text(value: "alert")),
        right: .ge(key: "priority", value: .int(value: 5)))
    try checkEqual(
        filter,
        try Filter.and(left: Filter.eq(key: "kind", value: .text(value: "alert")),
                       right: Filter.ge(key: "priority", value: .int(value: 5))),
        "equal filters")
    try check(Set([filter, Filter.exists(key: "kind")]).count == 2, "filters are Hashable")
    let receiver = try queue.receiver(options: ReceiveOptions(filter: filter))
    defer { receiver.close() }
    let message = try await receive(receiver)
    try checkEqual(message.id, urgent.id(), "the filtered message")
    try await message.lease.ack()
    let stats = try await queue.stats()
    try checkEqual(stats.messages, UInt64(2), "the messages the filter left")
}

/// `Filter.and` / `Filter.or` refuse (`PgmqError.InvalidOption`) to nest deeper than `maxFilterDepth()`:
/// 10,000 attempts, the first refused at level 101, and the process goes on with the 100-level filter.
func testDeepFilter(_ ctx: TestContext) async throws {
    try checkEqual(maxFilterDepth(), UInt32(100), "maxFilterDepth()")
    let leaf = Filter.exists(key: "a")
    var filter = leaf
    var level = 1
    var firstRefused = 0
    var refused = 0
    for attempt in 2...10_000 {
        do {
            if attempt % 2 == 0 {
                filter = try Filter.and(left: filter, right: leaf)
            } else {
                filter = try Filter.or(left: leaf, right: filter)
            }
            level = attempt
        } catch PgmqError.InvalidOption(let reason) {
            if firstRefused == 0 {
                firstRefused = attempt
                try check(reason.contains("at most 100 levels"), "the reason names the limit: \(reason)")
            }
            refused += 1
        }
    }
    try checkEqual(firstRefused, 101, "the level first refused")
    try checkEqual(level, 100, "the deepest filter built")
    try checkEqual(refused, 10_000 - 100, "every deeper attempt refused")

    let queue = try await ctx.freshQueue()
    _ = try await queue.send(body: Data("deep".utf8), options: SendOptions(attributes: ["a": .bool(value: true)]))
    let receiver = try queue.receiver(options: ReceiveOptions(filter: filter))
    defer { receiver.close() }
    let message = try await receive(receiver)
    try checkEqual(text(message.body), "deep", "the body")
    try await message.lease.ack()
}

/// A handler that is told of nothing here: no connection is lost in this suite.
final class IgnoringErrorHandler: ReceiveErrorHandler {
    func onError(error: PgmqError) {}
}

/// `ReceiveOptions(onError:)` takes a `ReceiveErrorHandler`: a receiver made with one delivers, and options
/// with and without a handler are equal (the handler is not compared). The Kotlin suite cuts connections
/// to see the handler called (ResilienceTests.kt).
func testOnErrorOption(_ ctx: TestContext) async throws {
    let queue = try await ctx.freshQueue()
    let options = ReceiveOptions(batchSize: 2, onError: IgnoringErrorHandler())
    try checkEqual(options, ReceiveOptions(batchSize: 2), "options with and without onError")
    let sent = try await queue.send(body: Data("x".utf8))
    let receiver = try queue.receiver(options: options)
    defer { receiver.close() }
    let message = try await receive(receiver)
    try checkEqual(message.id, sent.id(), "the message")
    try await message.lease.ack()
}

/// The error cases the queue reports.
func testErrors(_ ctx: TestContext) async throws {
    try await expectError("InvalidQueueName", "queue(name: \"bad name!\")") { try ctx.client.queue(name: "bad name!") }
    try await expectError("InvalidOption", "createQueue with ackDeadlineMs 10") {
        try await ctx.client.createQueue(name: "swift-invalid-option", options: QueueOptions(ackDeadlineMs: 10))
    }
    let missing = try ctx.client.queue(name: "swift-missing-\(UUID().uuidString.lowercased().prefix(8))")
    try await expectError("QueueNotFound", "send to a missing queue") { try await missing.send(body: Data("x".utf8)) }
    let deleted = try await ctx.client.deleteQueue(name: missing.name())
    try check(!deleted, "deleteQueue of a missing queue returned true")

    let queue = try await ctx.freshQueue()
    let untracked = try await queue.send(body: Data("x".utf8), options: SendOptions(track: false))
    try await expectError("NotTracked", "completed() of an untracked send") { try await untracked.completed() }
    try await expectError("InvalidOption", "ReceiveOptions(batchSize: 0)") {
        try queue.receiver(options: ReceiveOptions(batchSize: 0))
    }
    try await expectError("InvalidOption", "cancel of a malformed id") { try await queue.cancel(ids: ["not-a-uuid"]) }
}

/// `ClientOptions()` has the core's defaults (`defaultClientOptions()`), and a statement timeout of 0 is
/// refused before anything connects.
func testClientOptionsDefaults(_ ctx: TestContext) async throws {
    try checkEqual(ClientOptions(), defaultClientOptions(), "ClientOptions() against the core's defaults")
    try await expectError("InvalidOption", "connect with statementTimeoutMs: 0") {
        try await Client.connect(dsn: ctx.dsn, options: ClientOptions(statementTimeoutMs: 0))
    }
}

/// Printing `ClientOptions` (`description`, `debugDescription`, inside a collection) masks the password
/// of `listenDsn`, and so do `redactDsn` and the error of a malformed DSN.
func testSecretsStayHidden(_ ctx: TestContext) async throws {
    let secret = "swift-Secret-\(UUID().uuidString.prefix(8))"
    let options = ClientOptions(listenDsn: "postgres://app:\(secret)@db.example:5432/orders", poolSize: 3)
    for shown in [options.description, options.debugDescription, "\(options)", String(describing: [options])] {
        try check(!shown.contains(secret), "the password in \(shown)")
    }
    try check(options.description.contains("postgres://app:***@db.example:5432/orders"), "the masked DSN in \(options)")
    try check(options.listenDsn?.contains(secret) == true, "listenDsn keeps the password")
    try checkEqual(
        redactDsn(dsn: "host=db.example user=app password=\(secret) dbname=orders"),
        "host=db.example user=app password=*** dbname=orders", "redactDsn of a key=value DSN")
    do {
        _ = try await Client.connect(dsn: "postgres://app:\(secret)@127.0.0.1:notaport/postgres")
        throw Failure("connect with a malformed DSN succeeded")
    } catch let error as PgmqError {
        try checkEqual(kind(of: error), "InvalidOption", "the error of a malformed DSN")
        try check(!"\(error)".contains(secret), "the password in \(error)")
    }
}

typealias TestBody = @Sendable (TestContext) async throws -> Void

/// The operator calls: peek (no lease taken), listQueues with the backoff, listQueuesWithStats,
/// schemaVersion, a message's queue and lease token, redrive out of the DLQ, purge.
func testOperatorCalls(_ ctx: TestContext) async throws {
    let policy = Backoff(baseMs: 2000, factor: 3.0, maxMs: 60000, jitter: false)
    let queue = try await ctx.freshQueue(QueueOptions(maxDeliveryAttempts: 1, backoff: policy))
    let first = try await queue.send(body: Data("a".utf8))
    _ = try await queue.send(body: Data("later".utf8), options: SendOptions(delayMs: 3_600_000))
    let peeked = try await queue.peek()
    try checkEqual(peeked.first?.id, first.id(), "peek: the ready one first")
    try checkEqual(peeked.map { $0.state }, [MessageState.ready, MessageState.scheduled], "peek: states")
    let scheduled = try await queue.peek(options: PeekOptions(state: .scheduled))
    try checkEqual(scheduled.count, 1, "peek(options: PeekOptions(state: .scheduled))")

    let info = try await ctx.client.listQueues().first { $0.name == queue.name() }
    try checkEqual(info?.backoff, policy, "listQueues(): the queue's backoff")
    let overview = try await ctx.client.listQueuesWithStats().first { $0.info.name == queue.name() }
    try checkEqual(overview?.stats.messages, 2, "listQueuesWithStats(): its messages")
    let migrated = try await ctx.client.migrate()
    let version = try await ctx.client.schemaVersion()
    try checkEqual(version, migrated, "schemaVersion()")

    let receiver = try queue.receiver()
    let message = try await receive(receiver)
    try checkEqual(message.queue, queue.name(), "message.queue")
    try check(UUID(uuidString: message.leaseToken) != nil, "message.leaseToken is a UUID: \(message.leaseToken)")
    try check(!message.lease.isLeaseLost(), "isLeaseLost() while held")
    try await message.lease.nack(options: NackOptions(error: "down"))
    let dlq = try ctx.client.queue(name: dlqName(name: queue.name()))
    try await eventually("dead-lettered") { try await dlq.stats().messages == 1 }
    let moved = try await ctx.client.redrive(from: dlqName(name: queue.name()), to: queue.name())
    try checkEqual(moved, 1, "redrive(from:to:)")
    let purged = try await queue.purge()
    try checkEqual(purged, 2, "purge(): the redriven one and the scheduled one")
    receiver.close()
}

/// The core's table: `defaults()`, `errorCodes()` with each case's `errorCode()`, the literal defaults
/// of the records, and the content-type rule.
func testTruths(_ ctx: TestContext) async throws {
    let table = defaults()
    try checkEqual(table.completion.pollIntervalMs, 10_000, "defaults().completion.pollIntervalMs")
    try checkEqual(QueueOptions().ackDeadlineMs, table.queue.ackDeadlineMs, "QueueOptions().ackDeadlineMs")
    try checkEqual(Backoff().maxMs, table.backoff.maxMs, "Backoff().maxMs")
    try checkEqual(UInt64(PeekOptions().limit), table.peek.limit, "PeekOptions().limit")
    try checkEqual(table.conventions.contentTypeAttribute, "content-type", "the content-type attribute")
    let cases: [PgmqError] = [
        .InvalidQueueName(reason: "r"), .InvalidOption(reason: "r"), .QueueNotFound(reason: "r"),
        .LeaseLost(reason: "r"), .AlreadyFinished(reason: "r"), .NotTracked(reason: "r"),
        .MessageNotFound(reason: "r"), .RequestFailed(reason: "r", id: "i", outcome: .cancelled),
        .QueueFull(reason: "r"), .SchemaMissing(reason: "r"), .SchemaConflict(reason: "r"),
        .Connection(reason: "r"), .Timeout(reason: "r"), .Database(reason: "r"), .Closed(reason: "r"),
        .Internal(reason: "r"),
    ]
    try checkEqual(cases.map { $0.errorCode() }, errorCodes().map { $0.code }, "errorCode() of each case, in the core's order")
    try checkEqual(cases.map { $0.isTransient() }, errorCodes().map { $0.transient }, "isTransient()")
    try check(truthsJson().contains("\"error_codes\""), "truthsJson()")
    try check(isJsonContentType(contentType: nil), "no label reads as JSON")
    try check(isJsonContentType(contentType: "application/json; charset=utf-8"), "JSON with parameters")
    try check(!isJsonContentType(contentType: "text/plain"), "text/plain is not JSON")
}

/// The transactional send for the caller's own driver: the core's statement in each style, the
/// attributes' JSON text, and the SQLSTATEs of pgmq's SQL functions as `PgmqError`s (the core's map).
func testOutboxStatements(_ ctx: TestContext) async throws {
    let dollar = try outboxStatement(kind: .send, schema: nil, style: .dollar)
    try check(dollar.hasPrefix("SELECT pgmq.send(CAST($1 AS text), "), "the statement: \(dollar)")
    let question = try outboxStatement(kind: .sendJsonBatch, schema: "app_queues", style: .questionMark)
    try checkEqual(question.filter { $0 == "?" }.count, 6, "six ? placeholders: \(question)")
    try check(question.contains("\"app_queues\".send_json_batch("), "the custom schema: \(question)")
    try await expectError("InvalidOption", "a schema name the core refuses") {
        try outboxStatement(kind: .send, schema: "Not Valid", style: .dollar)
    }
    try checkEqual(try attributesJson(attributes: ["n": .int(value: 4)]), "{\"n\":4}", "attributesJson")
    let truths = try JSONSerialization.jsonObject(with: Data(truthsJson().utf8)) as? [String: Any]
    try checkEqual(outboxSqlstates(), truths?["sqlstates"] as? [String: String] ?? [:], "outboxSqlstates() against truthsJson()")
    try checkEqual(outboxSqlstates()["PQ001"], "queue_not_found", "PQ001")
    try await expectError("QueueNotFound", "PQ001") { try outboxError(sqlstate: "PQ001", reason: "pgmq: queue \"x\" does not exist") }
    try await expectError("InvalidOption", "PQ002") { try outboxError(sqlstate: "PQ002", reason: "pgmq: bad") }
    try outboxError(sqlstate: "23505", reason: "not pgmq's")
}

/// Keeps the core's log events it is given.
final class CollectingLogHandler: LogHandler, @unchecked Sendable {
    private let lock = NSLock()
    private var events: [(LogLevel, String)] = []

    func log(level: LogLevel, target: String, message: String) {
        lock.lock()
        defer { lock.unlock() }
        events.append((level, message))
    }

    /// The level of the first event whose text contains `fragment`.
    func level(of fragment: String) -> LogLevel? {
        lock.lock()
        defer { lock.unlock() }
        return events.first { $0.1.contains(fragment) }?.0
    }
}

/// `setLogHandler(handler:)`: the warning of a connect that retries reaches a Swift `LogHandler`.
func testLogHandler(_ ctx: TestContext) async throws {
    let handler = CollectingLogHandler()
    setLogHandler(handler: handler)
    defer { setLogHandler(handler: nil) }
    try await expectError("Connection", "connect to a closed port, retrying for 300 ms") {
        try await Client.connect(
            dsn: "postgres://pgmq@127.0.0.1:1/none", options: ClientOptions(connectTimeoutMs: 500, connectRetryMs: 300))
    }
    try await eventually("the retry's warning reached the handler") { handler.level(of: "retrying") == .warn }
}

func allTests() -> [(String, TestBody)] {
    [
        ("send, receive, ack: completed() resolves completed", testSendReceiveAckCompletion),
        ("two racing receivers get each message once", testTwoRacingReceivers),
        ("nack redelivers with deliveryAttempt + 1 and the error", testNackRedelivers),
        ("dead-lettered after maxDeliveryAttempts failures", testDeadLetterAfterMaxAttempts),
        ("delayed delivery (delayMs) is never early", testDelayedDeliveryNeverEarly),
        ("scheduled delivery (scheduleAt) is never early", testScheduledDeliveryNeverEarly),
        ("cancel of queued messages", testCancelQueued),
        ("cancel of an in-flight message", testCancelInFlight),
        ("receiver.close() ends a pending next()", testReceiverCloseEndsPendingNext),
        ("a cancelled Task's next() is ended by receiver.close()", testTaskCancellationNeedsReceiverClose),
        ("client.close() ends pending receivers", testClientCloseEndsReceivers),
        ("a batch is consumed with no duplicates", testBatchConsumedWithoutDuplicates),
        ("filters pick messages by attribute", testFilter),
        ("Filter.and / Filter.or refuse level 101 of 10,000", testDeepFilter),
        ("ReceiveOptions(onError:) takes a ReceiveErrorHandler; the handler is not compared", testOnErrorOption),
        ("errors", testErrors),
        ("ClientOptions() has the core's defaults; statementTimeoutMs 0 is InvalidOption", testClientOptionsDefaults),
        ("ClientOptions, redactDsn and DSN errors never show a password", testSecretsStayHidden),
        ("peek, listQueues(WithStats), schemaVersion, leaseToken, redrive, purge", testOperatorCalls),
        ("defaults(), errorCodes() and errorCode() are the core's table", testTruths),
        ("setLogHandler(handler:) gets the core's warnings", testLogHandler),
        ("outboxStatement, attributesJson, outboxSqlstates and outboxError are the core's", testOutboxStatements),
    ]
}

// ---- the hand-written layer (Sources/Pgmq) ---------------------------------------------------------

/// Runs `operation`, which must throw a `PgmqError` whose `code` is `expected`.
func expectCode<T>(
    _ expected: PgmqError.Code, _ what: String, line: UInt = #line, _ operation: () async throws -> T
) async throws {
    do {
        _ = try await operation()
    } catch let error as PgmqError {
        if error.code == expected { return }
        throw Failure("line \(line): \(what): expected code \(expected), got \(error.code): \(error.reason)")
    }
    throw Failure("line \(line): \(what): expected a PgmqError with code \(expected), nothing was thrown")
}

/// `error.code` has one lowerCamel case per generated case, whose raw value is the core's code
/// (`errorCode()`), in the core's order (`errorCodes()`); `error.reason` is the case's text.
func testLayerErrorCodes(_ ctx: TestContext) async throws {
    let cases: [PgmqError] = [
        .InvalidQueueName(reason: "r0"), .InvalidOption(reason: "r1"), .QueueNotFound(reason: "r2"),
        .LeaseLost(reason: "r3"), .AlreadyFinished(reason: "r4"), .NotTracked(reason: "r5"),
        .MessageNotFound(reason: "r6"), .RequestFailed(reason: "r7", id: "i", outcome: .expired),
        .QueueFull(reason: "r8"), .SchemaMissing(reason: "r9"), .SchemaConflict(reason: "r10"),
        .Connection(reason: "r11"), .Timeout(reason: "r12"), .Database(reason: "r13"), .Closed(reason: "r14"),
        .Internal(reason: "r15"),
    ]
    try checkEqual(cases.map { $0.code.rawValue }, cases.map { $0.errorCode() }, "code.rawValue against errorCode()")
    try checkEqual(
        PgmqError.Code.allCases.map { $0.rawValue }, errorCodes().map { $0.code }, "PgmqError.Code.allCases against errorCodes()")
    try checkEqual(cases.map { $0.reason }, (0..<cases.count).map { "r\($0)" }, "reason")
    try checkEqual("\(PgmqError.Code.queueNotFound)", "queue_not_found", "a code, printed")
    try checkEqual(PgmqError.Code(rawValue: "lease_lost"), .leaseLost, "a code from the core's text")

    do {
        _ = try ctx.client.queue("bad name!")
        throw Failure("queue(\"bad name!\") did not throw")
    } catch let error as PgmqError where error.code == .invalidQueueName {
        try check(!error.reason.isEmpty, "the reason of an invalidQueueName error")
    }
    let missing = "swift-layer-missing-\(UUID().uuidString.lowercased().prefix(8))"
    try await expectCode(.queueNotFound, "send to a missing queue") {
        try await ctx.client.queue(missing).send(Data("x".utf8))
    }
}

/// `Duration`s become whole milliseconds exactly (a sub-millisecond rest rounds up, far too long stays
/// `UInt64.max`), negative ones are `.invalidOption`, the other arguments keep the generated defaults, and
/// the getters read the milliseconds back.
func testLayerDurations(_ ctx: TestContext) async throws {
    let cases: [(Duration, UInt64)] = [
        (.seconds(30), 30_000), (.milliseconds(1500), 1500), (.microseconds(1500), 2), (.nanoseconds(1), 1),
        (.zero, 0), (.seconds(Int64.max), UInt64.max), (Duration.seconds(1) + .nanoseconds(1), 1001),
    ]
    for (duration, ms) in cases {
        let send = try SendOptions(delay: duration)
        try checkEqual(send.delayMs, ms, "SendOptions(delay: \(duration)).delayMs")
    }
    for negative in [Duration.milliseconds(-1), .nanoseconds(-1), .seconds(-3600)] {
        try await expectCode(.invalidOption, "SendOptions(delay: \(negative))") { try SendOptions(delay: negative) }
        try await expectCode(.invalidOption, "QueueOptions(ackDeadline: \(negative))") { try QueueOptions(ackDeadline: negative) }
        try await expectCode(.invalidOption, "ReceiveOptions(pollInterval: \(negative))") { try ReceiveOptions(pollInterval: negative) }
        try await expectCode(.invalidOption, "NackOptions(delay: \(negative))") { try NackOptions(delay: negative) }
        try await expectCode(.invalidOption, "ClientOptions(connectTimeout: \(negative))") { try ClientOptions(connectTimeout: negative) }
        try await expectCode(.invalidOption, "Backoff(base: \(negative))") { try Backoff(base: negative) }
    }

    var queue = QueueOptions()
    queue.ackDeadlineMs = 30_000
    queue.maxDeliveryAttempts = 3
    try checkEqual(try QueueOptions(ackDeadline: .seconds(30), maxDeliveryAttempts: 3), queue, "QueueOptions(ackDeadline:)")
    var retention = QueueOptions()
    retention.retentionPeriodMs = 3_600_000
    try checkEqual(try QueueOptions(retentionPeriod: .seconds(3600)), retention, "QueueOptions(retentionPeriod:)")
    try checkEqual(
        try DeadLetterQueueOptions(ackDeadline: .seconds(20), retentionPeriod: .seconds(60)),
        DeadLetterQueueOptions(ackDeadlineMs: 20_000, retentionPeriodMs: 60_000), "DeadLetterQueueOptions(ackDeadline:retentionPeriod:)")
    try checkEqual(
        try ClientOptions(poolSize: 3, connectTimeout: .seconds(3), statementTimeout: .seconds(5), connectRetry: .milliseconds(250)),
        ClientOptions(poolSize: 3, connectTimeoutMs: 3000, statementTimeoutMs: 5000, connectRetryMs: 250),
        "ClientOptions(connectTimeout:statementTimeout:connectRetry:)")
    try checkEqual(try ClientOptions(statementTimeout: .seconds(5)), ClientOptions(statementTimeoutMs: 5000), "ClientOptions(statementTimeout:)")
    try checkEqual(try ClientOptions(connectRetry: .seconds(1)), ClientOptions(connectRetryMs: 1000), "ClientOptions(connectRetry:)")
    try checkEqual(
        try ReceiveOptions(batchSize: 3, pollInterval: .seconds(2)), ReceiveOptions(batchSize: 3, pollIntervalMs: 2000),
        "ReceiveOptions(batchSize:pollInterval:)")
    try checkEqual(try NackOptions(delay: .seconds(2), error: "e"), NackOptions(delayMs: 2000, error: "e"), "NackOptions(delay:error:)")
    try checkEqual(try Backoff(base: .seconds(2), max: .seconds(60)), Backoff(baseMs: 2000, maxMs: 60_000), "Backoff(base:max:)")
    try checkEqual(try Backoff(max: .seconds(60)), Backoff(maxMs: 60_000), "Backoff(max:)")

    try checkEqual(QueueOptions().ackDeadline, .milliseconds(QueueOptions().ackDeadlineMs), "QueueOptions().ackDeadline")
    try checkEqual(ReceiveOptions().pollInterval, .milliseconds(ReceiveOptions().pollIntervalMs), "ReceiveOptions().pollInterval")
    try checkEqual(ClientOptions().statementTimeout, .milliseconds(ClientOptions().statementTimeoutMs), "ClientOptions().statementTimeout")
    try checkEqual(SendOptions().delay, nil, "SendOptions().delay")
    try checkEqual(try SendOptions(delay: .seconds(2)).delay, .seconds(2), "SendOptions(delay:).delay")

    // The core's own bounds still apply: an ack deadline under 1 s.
    try await expectCode(.invalidOption, "createQueue with ackDeadline 999 ms") {
        try await ctx.client.createQueue("swift-layer-short-deadline", options: try QueueOptions(ackDeadline: .milliseconds(999)))
    }
}

/// `for try await message in queue.messages()`: each message once; finished through the message.
func testLayerMessagesLoop(_ ctx: TestContext) async throws {
    let queue = try await ctx.freshQueue()
    let batch = try await queue.sendBatch([Data("one".utf8), Data("two".utf8), Data("three".utf8)])
    var texts: [String] = []
    for try await message in queue.messages() {
        texts.append(message.text)
        try await message.ack()
        if texts.count == 3 { break }
    }
    try checkEqual(Set(texts), ["one", "two", "three"], "the bodies received")
    let outcomes = try await within(10, "batch.completed()") { try await batch.completed() }
    try check(outcomes.count == 3 && outcomes.values.allSatisfy { $0 == .completed }, "every outcome is completed: \(outcomes)")
}

/// A message the loop body leaves unfinished is released when the loop ends (`break`): delivered again
/// at once (attempt 2), long before its 30 s ack deadline.
func testLayerMessagesReleasedOnBreak(_ ctx: TestContext) async throws {
    let queue = try await ctx.freshQueue(try QueueOptions(ackDeadline: .seconds(30)))
    let sent = try await queue.send(Data("unfinished".utf8))
    for try await message in queue.messages() {
        try checkEqual(message.id, sent.id(), "the message")
        break
    }
    let endedAt = nowMs()
    var again: Message? = nil
    for try await message in queue.messages() {
        again = message
        break
    }
    guard let redelivered = again else { throw Failure("the second loop ended without a message") }
    try checkEqual(redelivered.id, sent.id(), "the message delivered again")
    try checkEqual(redelivered.deliveryAttempt, UInt32(2), "its delivery attempt")
    try check(nowMs() - endedAt < 10_000, "delivered again \(Int(nowMs() - endedAt)) ms after the loop ended")
    try await redelivered.ack()
}

/// Messages the loop body keeps (up to `batchSize`, the receiver's capacity) stay leased while the loop
/// moves on and after it ends: acked later in other Tasks, each completes, none is delivered twice.
func testLayerMessagesHandedOff(_ ctx: TestContext) async throws {
    let queue = try await ctx.freshQueue(try QueueOptions(ackDeadline: .seconds(30)))
    let batch = try await queue.sendBatch([Data("a".utf8), Data("b".utf8), Data("c".utf8)])
    var kept: [Message] = []
    for try await message in queue.messages(ReceiveOptions(batchSize: 3)) {
        kept.append(message)
        if kept.count == 3 { break }
    }
    let held = try await queue.stats()
    try checkEqual(held.leased, UInt64(3), "stats.leased after the loop: the kept messages are held")
    let workers = kept.map { message in Task { try await message.ack() } }
    for worker in workers { try await worker.value }
    let outcomes = try await within(10, "batch.completed()") { try await batch.completed() }
    try check(outcomes.count == 3 && outcomes.values.allSatisfy { $0 == .completed }, "every outcome is completed: \(outcomes)")
    try check(kept.allSatisfy { $0.deliveryAttempt == 1 }, "first deliveries only: \(kept.map { $0.deliveryAttempt })")
}

/// Cancelling the Task that runs the loop ends its pending `next()` (the layer closes the receiver): the
/// loop ends without an error, in time, and nothing was leased on its behalf.
func testLayerMessagesTaskCancellation(_ ctx: TestContext) async throws {
    let queue = try await ctx.freshQueue()
    let loop = Task { () async throws -> Int in
        var count = 0
        for try await message in queue.messages() {
            count += 1
            try await message.ack()
        }
        return count
    }
    try await snooze(ms: 300) // let it reach the wait
    loop.cancel()
    let count = try await within(5, "the cancelled loop to end") { try await loop.value }
    try checkEqual(count, 0, "messages the cancelled loop received")

    let sent = try await queue.send(Data("after the cancel".utf8))
    let receiver = try queue.receiver()
    defer { receiver.close() }
    let message = try await receive(receiver)
    try checkEqual(message.id, sent.id(), "the message sent after the cancel")
    try checkEqual(message.deliveryAttempt, UInt32(1), "its delivery attempt: the cancelled loop never leased it")
    try await message.ack()
}

/// With batchSize 3, what the first claim leased but the loop never handed out is released when the loop
/// ends: another loop gets it at once, not after the 30 s ack deadline.
func testLayerMessagesBatchRestReleased(_ ctx: TestContext) async throws {
    let queue = try await ctx.freshQueue(try QueueOptions(ackDeadline: .seconds(30)))
    try await queue.sendBatch([Data("1".utf8), Data("2".utf8), Data("3".utf8)])
    for try await message in queue.messages(ReceiveOptions(batchSize: 3)) {
        try await message.ack()
        break
    }
    let endedAt = nowMs()
    var rest: [String] = []
    for try await message in queue.messages() {
        rest.append(message.text)
        try await message.ack()
        if rest.count == 2 { break }
    }
    try checkEqual(rest.count, 2, "the messages left")
    try check(nowMs() - endedAt < 10_000, "the rest came back \(Int(nowMs() - endedAt)) ms after the first loop ended")
    try await eventually("the queue to be empty") { try await queue.stats().messages == 0 }
}

/// What `queue.receiver(options:)` refuses is thrown by the loop's first `next()`; a loop ends when its
/// client is closed; `messages(onError:)` and `ReceiveErrorCallback` take closures.
func testLayerMessagesErrorsAndEnd(_ ctx: TestContext) async throws {
    let queue = try await ctx.freshQueue()
    try await expectCode(.invalidOption, "messages(ReceiveOptions(batchSize: 0))") {
        for try await _ in queue.messages(ReceiveOptions(batchSize: 0)) {}
    }
    let withCallback = ReceiveOptions(batchSize: 2, onError: ReceiveErrorCallback { _ in })
    try checkEqual(withCallback, ReceiveOptions(batchSize: 2), "options with and without a ReceiveErrorCallback")

    let client = try await Client.connect(ctx.dsn, options: ClientOptions(poolSize: 2))
    let theirs = try client.queue(queue.name())
    let sent = try await queue.send(Data("x".utf8))
    let loop = Task { () async throws -> [String] in
        var seen: [String] = []
        for try await message in theirs.messages(onError: { _ in }) {
            seen.append(message.id)
            try await message.ack()
        }
        return seen
    }
    try await eventually("the message to be acked") { try await queue.stats().messages == 0 }
    try await within(10, "client.close()") { await client.close() }
    let seen = try await within(10, "the loop to end after client.close()") { try await loop.value }
    try checkEqual(seen, [sent.id()], "what the loop received")
}

/// The Swift-style calls: the name or body unlabeled, and no `_ =` where the result is optional to use.
func testLayerDiscardableCalls(_ ctx: TestContext) async throws {
    let name = "swift-layer-\(UUID().uuidString.lowercased().prefix(8))"
    try await ctx.client.createQueue(name)
    let again = try await ctx.client.createQueue(name, options: QueueOptions())
    try check(!again, "createQueue of an existing queue returned true")
    let queue = try ctx.client.queue(name)
    try await queue.send(Data("a".utf8))
    try await queue.sendBatch([OutgoingMessage(body: Data("b".utf8))])
    try await queue.sendBatch([Data("c".utf8), Data("d".utf8)])
    let scheduled = try await queue.send(Data("later".utf8), options: try SendOptions(delay: .seconds(60)))
    try await queue.cancel([scheduled.id()])
    let found = try await queue.cancel([scheduled.id()])
    try checkEqual(found, [String](), "cancel of an already cancelled message")
    let stats = try await queue.stats()
    try checkEqual(stats.ready, UInt64(4), "stats.ready")
    try await ctx.client.deleteQueue(name)
    let deleted = try await ctx.client.deleteQueue(name)
    try check(!deleted, "deleteQueue of a deleted queue returned true")
}

/// A `Codable` order, sent as JSON.
struct LayerOrder: Codable, Equatable {
    let id: Int
    let item: String
    let rush: Bool
}

/// JSON bodies: `send(_ value:)` labels them `content-type: application/json` (the core's conventions),
/// `decode(_:)` reads them back, and unlabelled bytes too; a `String` is sent as its text; another label
/// is a `ContentTypeError`, and a JSON send that names another content type is `.invalidOption` (nothing
/// is sent); `PeekedMessage.decode` reads a peeked body.
func testLayerJSON(_ ctx: TestContext) async throws {
    try checkEqual(ContentType.attribute, "content-type", "ContentType.attribute")
    try checkEqual(ContentType.json, "application/json", "ContentType.json")
    let json: AttributeValue = .text(value: "application/json")
    let queue = try await ctx.freshQueue()
    let receiver = try queue.receiver()
    defer { receiver.close() }

    let order = LayerOrder(id: 42, item: "résumé ✓", rush: true)
    try await queue.send(order, options: SendOptions(attributes: ["kind": .text(value: "order")]))
    let first = try await receive(receiver, "the JSON order")
    try checkEqual(first.attributes, [ContentType.attribute: json, "kind": .text(value: "order")], "the attributes")
    try checkEqual(try first.decode(LayerOrder.self), order, "decode(LayerOrder.self)")
    let inferred: LayerOrder = try first.decode()
    try checkEqual(inferred, order, "decode() by inference")
    try await first.ack()

    try await queue.send("just a string")
    let plainText = try await receive(receiver, "a String, sent as its text")
    try checkEqual(plainText.text, "just a string", "the body of a String")
    try checkEqual(plainText.attributes[ContentType.attribute], nil, "no label on text")
    try await plainText.ack()
    try await queue.sendBatch([OutgoingMessage(json: "a JSON string")])
    let fragment = try await receive(receiver, "a JSON string")
    try checkEqual(fragment.text, #""a JSON string""#, "the body of a JSON string")
    try checkEqual(try fragment.decode(String.self), "a JSON string", "decode(String.self)")
    try await fragment.ack()

    try await queue.sendBatch([LayerOrder(id: 1, item: "a", rush: false), LayerOrder(id: 2, item: "b", rush: true)])
    var ids: [Int] = []
    for _ in 0..<2 {
        let message = try await receive(receiver, "an order of the batch")
        try checkEqual(message.attributes[ContentType.attribute], json, "the label of a batch message")
        ids.append(try message.decode(LayerOrder.self).id)
        try await message.ack()
    }
    try checkEqual(ids.sorted(), [1, 2], "the batch's orders")

    try await queue.send(Data(#"{"id": 7, "item": "raw", "rush": false}"#.utf8))
    let raw = try await receive(receiver, "JSON sent as bytes")
    try checkEqual(raw.attributes[ContentType.attribute], nil, "no label on bytes")
    try checkEqual(try raw.decode(LayerOrder.self), LayerOrder(id: 7, item: "raw", rush: false), "decode of unlabelled JSON")
    do {
        _ = try raw.decode([String].self)
        throw Failure("decoding an object as [String] did not throw")
    } catch is DecodingError {}
    try await raw.ack()

    let vendor: AttributeValue = .text(value: "application/vnd.order+json; charset=utf-8")
    try await queue.send(Data(#"{"id": 8, "item": "vnd", "rush": true}"#.utf8), options: SendOptions(attributes: [ContentType.attribute: vendor]))
    let vnd = try await receive(receiver, "a +json message")
    try checkEqual(try vnd.decode(LayerOrder.self).id, 8, "decode of application/vnd.order+json; charset=utf-8")
    try await vnd.ack()

    let plain: AttributeValue = .text(value: "text/plain")
    try await queue.send(Data("plain".utf8), options: SendOptions(attributes: [ContentType.attribute: plain]))
    let labelled = try await receive(receiver, "a text/plain message")
    do {
        _ = try labelled.decode(String.self)
        throw Failure("decode of a text/plain message did not throw")
    } catch let error as ContentTypeError {
        try checkEqual(error.contentType, "text/plain", "ContentTypeError.contentType")
        try checkEqual(error.expected, "application/json", "ContentTypeError.expected")
    }
    try await labelled.ack()

    try await expectCode(.invalidOption, "a JSON send labelled text/plain") {
        try await queue.send(order, options: SendOptions(attributes: [ContentType.attribute: plain]))
    }
    try await queue.send(order, options: SendOptions(attributes: [ContentType.attribute: json]))
    let peeked = try await queue.peek(options: PeekOptions(state: .ready))
    try checkEqual(peeked.count, 1, "peek(options: PeekOptions(state: .ready))")
    try checkEqual(try peeked[0].decode(LayerOrder.self), order, "PeekedMessage.decode")
    let explicit = try await receive(receiver, "a JSON send labelled application/json")
    try checkEqual(try explicit.decode(LayerOrder.self), order, "decode")
    try await explicit.ack()
    let outgoing = try OutgoingMessage(json: order, attributes: ["kind": .text(value: "order")])
    try checkEqual(outgoing.attributes, [ContentType.attribute: json, "kind": .text(value: "order")], "OutgoingMessage(json:)")
    try checkEqual(try JSONDecoder().decode(LayerOrder.self, from: outgoing.body), order, "OutgoingMessage(json:).body")
    try await eventually("nothing left (the refused send sent nothing)") { try await queue.stats().messages == 0 }
}

/// `message.ack()`, `nack(delay:error:)`, `nack(options:)`, `extend(by:)`, `release()`, the state
/// properties, `text`; and `completed(pollInterval:)`, `waitForCompletion(ids:pollInterval:)`.
func testLayerMessageShortcuts(_ ctx: TestContext) async throws {
    let queue = try await ctx.freshQueue(try QueueOptions(ackDeadline: .seconds(5)))
    let sent = try await queue.send(Data("shortcut".utf8))
    let receiver = try queue.receiver()
    defer { receiver.close() }
    let first = try await receive(receiver)
    try checkEqual(first.text, "shortcut", "message.text")
    try check(!first.isFinished && !first.isCancelled && !first.isLeaseLost, "a held message")
    try await first.extend(by: .seconds(20))
    try await expectCode(.invalidOption, "extend(by: -1 s)") { try await first.extend(by: .seconds(-1)) }
    try await expectCode(.invalidOption, "nack(delay: -1 s)") { try await first.nack(delay: .seconds(-1)) }
    let nackedAt = nowMs()
    try await first.nack(delay: .milliseconds(400), error: "later")
    try check(first.isFinished, "a nacked message is finished")
    try await expectCode(.alreadyFinished, "ack after nack") { try await first.ack() }

    let second = try await receive(receiver, "the redelivery")
    try check(nowMs() - nackedAt >= 400, "delivered again \(Int(nowMs() - nackedAt)) ms after nack(delay: 400 ms)")
    try checkEqual(second.lastError, "later", "lastError")
    try checkEqual(second.deliveryAttempt, UInt32(2), "deliveryAttempt")
    second.release()
    try check(second.isFinished, "a released message is finished")

    let third = try await receive(receiver, "the message after release()")
    try checkEqual(third.deliveryAttempt, UInt32(3), "deliveryAttempt after release()")
    try await third.nack(options: NackOptions(delayMs: 0, error: "again"))
    let fourth = try await receive(receiver, "the message after nack(options:)")
    try checkEqual(fourth.lastError, "again", "lastError after nack(options:)")
    try await fourth.ack()

    let outcome = try await within(10, "completed(pollInterval:)") { try await sent.completed(pollInterval: .seconds(1)) }
    try checkEqual(outcome, Outcome.completed, "completed(pollInterval:)")
    let recorded = try await within(10, "waitForCompletion(ids:pollInterval:)") {
        try await queue.waitForCompletion(ids: [sent.id()], pollInterval: .milliseconds(500))
    }
    try checkEqual(recorded, [sent.id(): Outcome.completed], "waitForCompletion(ids:pollInterval:)")
    try await expectCode(.invalidOption, "completed(pollInterval: -1 s)") { try await sent.completed(pollInterval: .seconds(-1)) }
}

/// Results and request/reply: `message.ack(result:contentType:)` and `ack(json:)` reach `sent.reply()` and
/// `reply(pollInterval:)`; `queue.request(_:timeout:)` is answered as JSON; a dead-lettered request is
/// `RequestFailed` with its outcome, an unanswered one `.timeout` (and cancelled); `reply.decode`,
/// `reply.text`, and a reply printed shows its result's length only.
func testLayerReplies(_ ctx: TestContext) async throws {
    let queue = try await ctx.freshQueue(QueueOptions(maxDeliveryAttempts: 1))
    let receiver = try queue.receiver()
    defer { receiver.close() }

    let binary = try await queue.send(Data("binary".utf8))
    let json = try await queue.send(Data("json".utf8))
    let plain = try await queue.send(Data("plain".utf8))
    try await receive(receiver, "binary").ack(result: Data([0, 1, 255]), contentType: "application/octet-stream")
    try await receive(receiver, "json").ack(json: LayerOrder(id: 5, item: "result", rush: false))
    try await receive(receiver, "plain").ack()

    let bytes = try await within(10, "reply()") { try await binary.reply() }
    try checkEqual(bytes.result, Data([0, 1, 255]), "the result's bytes")
    try checkEqual(bytes.contentType, "application/octet-stream", "their label")
    try checkEqual(
        "\(bytes)", "Reply(outcome=completed, result=3 bytes, contentType=application/octet-stream, reason=null)",
        "a reply printed")
    let labelled = try await within(10, "reply(pollInterval:)") { try await json.reply(pollInterval: .seconds(1)) }
    try checkEqual(labelled.contentType, ContentType.json, "ack(json:) labels the result")
    try checkEqual(try labelled.decode(LayerOrder.self), LayerOrder(id: 5, item: "result", rush: false), "reply.decode")
    let none = try await within(10, "reply() of a plain ack") { try await plain.reply() }
    try checkEqual(none, Reply(outcome: .completed, result: nil, contentType: nil), "a plain ack has no result")
    try checkEqual(none.text, nil, "reply.text without a result")
    try await expectCode(.invalidOption, "decode of a reply without a result") { try none.decode(LayerOrder.self) }

    let worker = Task {
        let request = try await receive(receiver, "the request")
        let order = try request.decode(LayerOrder.self)
        try await request.ack(json: LayerOrder(id: order.id * 2, item: order.item, rush: true))
        let failing = try await receive(receiver, "the request that fails")
        try await failing.nack(error: "cannot answer")
    }
    let answer = try await within(10, "request(_:timeout:)") {
        try await queue.request(LayerOrder(id: 21, item: "double", rush: false), timeout: .seconds(5))
    }
    try checkEqual(try answer.decode(LayerOrder.self).id, 42, "the worker's reply")
    do {
        _ = try await within(10, "a dead-lettered request") { try await queue.request("fail", timeout: .seconds(5)) }
        throw Failure("a dead-lettered request did not throw")
    } catch PgmqError.RequestFailed(_, _, let outcome) {
        try checkEqual(outcome, Outcome.deadLettered, "the outcome of a dead-lettered request")
    }
    try await worker.value
    try await expectCode(.timeout, "a request nobody answers") {
        try await queue.request(Data("alone".utf8), timeout: .milliseconds(200))
    }
    try await expectCode(.invalidOption, "a negative timeout") { try await queue.request("x", timeout: .seconds(-1)) }
    try await eventually("the unanswered request was cancelled") { try await queue.stats().messages == 0 }
}

/// The tests of the hand-written layer, run after `allTests()`.
func layerTests() -> [(String, TestBody)] {
    [
        ("layer: error.code is the core's code, one case each; error.reason", testLayerErrorCodes),
        ("layer: Duration options convert exactly and refuse negatives", testLayerDurations),
        ("layer: for try await over queue.messages()", testLayerMessagesLoop),
        ("layer: a message left unfinished is released when the loop ends", testLayerMessagesReleasedOnBreak),
        ("layer: messages kept by the loop body stay leased and can be acked later", testLayerMessagesHandedOff),
        ("layer: cancelling the loop's Task ends a pending next()", testLayerMessagesTaskCancellation),
        ("layer: what a batch leased but never handed out is released when the loop ends", testLayerMessagesBatchRestReleased),
        ("layer: messages() throws the receiver's InvalidOption, ends on client.close(), takes onError", testLayerMessagesErrorsAndEnd),
        ("layer: unlabeled, @discardableResult calls on Client and Queue", testLayerDiscardableCalls),
        ("layer: Codable bodies as JSON with the content-type attribute", testLayerJSON),
        ("layer: message.ack/nack/extend/release and Duration poll intervals", testLayerMessageShortcuts),
        ("layer: results, reply(), request(_:timeout:), RequestFailed and Timeout", testLayerReplies),
        ("layer: bounded queues: maxMessages, setMaxMessages(_:), SendOptions(waitForRoom:), QueueFull", testLayerBounded),
        ("layer: job groups: SendOptions(group:), cancelGroup/waitForGroup/groupStats on queue and client", testLayerGroups),
        ("layer: dependencies: a diamond across two queues, a failed chain's reasons, .waiting, refusals", testLayerDependencies),
    ]
}

/// A full bounded queue refuses a send at once (`waitForRoom: .zero`) with `QueueFull`, nothing written;
/// the bound is listed, a bound of 0 refused, and the bound lifted.
func testLayerBounded(_ ctx: TestContext) async throws {
    let queue = try await ctx.freshQueue(QueueOptions(maxMessages: 1))
    try await queue.send("first")
    try await expectCode(.queueFull, "a send to a full queue") {
        try await queue.send("second", options: SendOptions(waitForRoom: .zero))
    }
    try checkEqual(try await queue.stats().messages, 1, "nothing was written")
    let info = try await ctx.client.listQueues().first { $0.name == queue.name() }
    try checkEqual(info?.maxMessages, 1, "listQueues() shows the bound")
    try await expectCode(.invalidOption, "a bound of 0") { try await queue.setMaxMessages(0) }
    try await queue.setMaxMessages(nil)
    try await queue.send("second", options: SendOptions(waitForRoom: .zero))
    try checkEqual(try await queue.stats().messages, 2, "the lifted bound lets it in")
    try checkEqual(SendOptions().waitForRoom, nil, "SendOptions(): the core's default wait")
}

/// A group across a queue's send and batch: counted, cancelled, awaited; an unknown group is empty.
func testLayerGroups(_ ctx: TestContext) async throws {
    let queue = try await ctx.freshQueue()
    let group = "swift-group-\(UUID().uuidString.lowercased())"
    try await queue.send("one", options: SendOptions(group: group))
    try await queue.sendBatch(["two", "three"], options: SendOptions(group: group))
    try checkEqual(try await queue.groupStats(group).ready, 3, "queue.groupStats(_:)")
    try checkEqual(try await ctx.client.groupStats(group).messages, 3, "client.groupStats(_:)")
    try checkEqual(try await queue.cancelGroup(group).count, 3, "queue.cancelGroup(_:)")
    let client = ctx.client
    let outcomes = try await within(10, "client.waitForGroup(_:)") { try await client.waitForGroup(group) }
    try checkEqual(Set(outcomes.values), [Outcome.cancelled], "every member cancelled")
    try checkEqual(try await queue.waitForGroup("swift-unknown-\(UUID())").count, 0, "an unknown group")
    try checkEqual(try await ctx.client.cancelGroup(group).count, 0, "nothing left to cancel")
    try await expectCode(.invalidOption, "track: false with a group") {
        try await queue.send("x", options: SendOptions(track: false, group: group))
    }
}

/// Dependencies: a diamond across two queues (B and C wait for A, D for both, and runs once, last); an
/// in-batch chain (`after`) whose first entry is dead-lettered cancels the rest, each reply saying why;
/// peek shows a waiting message as `.waiting`; bad dependencies are `InvalidOption`, nothing written.
func testLayerDependencies(_ ctx: TestContext) async throws {
    let q1 = try await ctx.freshQueue()
    let q2 = try await ctx.freshQueue()
    let a = try await q1.send("A")
    let middle = try await q2.sendBatch(["B", "C"], options: SendOptions(dependsOn: [a.id()]))
    let d = try await q1.send("D", options: SendOptions(dependsOn: middle.ids()))
    let waitingStats = try await q2.stats()
    try checkEqual([waitingStats.ready, waitingStats.scheduled], [0, 2], "B and C wait, counted as scheduled")
    let waiting = try await q1.peek(options: PeekOptions(state: .waiting))
    try checkEqual(waiting.map { $0.id }, [d.id()], "peek(options: PeekOptions(state: .waiting))")
    try checkEqual(waiting.first?.availableAt, Date(timeIntervalSince1970: 253_402_300_799), "9999-12-31T23:59:59Z")

    let r1 = try q1.receiver()
    defer { r1.close() }
    let r2 = try q2.receiver()
    defer { r2.close() }
    let first = try await receive(r1, "A")
    try checkEqual(first.text, "A", "only A is claimable")
    try await first.ack()
    try await receive(r2, "a middle message").ack()
    try checkEqual(try await q1.stats().ready, 0, "D waits for the other middle message")
    try await receive(r2, "the other middle message").ack()
    let last = try await receive(r1, "D")
    try checkEqual(last.id, d.id(), "D comes last")
    try checkEqual(last.deliveryAttempt, 1, "D is delivered once")
    try await last.ack()
    try checkEqual(try await within(10, "D's outcome") { try await d.completed() }, Outcome.completed, "D")
    try checkEqual(try await q1.stats().messages + q2.stats().messages, 0, "nothing left in the two queues")

    let chained = try await ctx.freshQueue(QueueOptions(maxDeliveryAttempts: 1))
    let chain = try await chained.sendBatch([
        OutgoingMessage(body: Data("A".utf8)),
        OutgoingMessage(body: Data("B".utf8), after: [0]),
        try OutgoingMessage(json: "C", after: [1]),
    ])
    let ids = chain.ids()
    let r3 = try chained.receiver()
    defer { r3.close() }
    try await receive(r3, "the chain's first entry").nack(error: "boom")
    let replies = try await within(10, "the chain's replies()") { try await chain.replies() }
    try checkEqual(replies[ids[0]]?.outcome, Outcome.deadLettered, "A")
    try checkEqual(replies[ids[1]]?.reason, "dependency \(ids[0]) was dead_lettered", "B's reason")
    try checkEqual(replies[ids[2]]?.reason, "dependency \(ids[1]) was cancelled", "C's reason")
    try checkEqual(try await chained.stats().messages, 0, "nothing left in the chain's queue")
    try checkEqual(
        "\(Reply(outcome: .cancelled, result: nil, contentType: nil, reason: "dependency \(ids[1]) was cancelled"))",
        "Reply(outcome=cancelled, result=null, contentType=null, reason=dependency \(ids[1]) was cancelled)",
        "a reply printed with its reason")

    let untracked = try await q1.send("untracked", options: SendOptions(track: false))
    let before = try await q1.stats().messages
    try await expectCode(.invalidOption, "an unknown id") {
        try await q1.send("x", options: SendOptions(dependsOn: [UUID().uuidString.lowercased()]))
    }
    try await expectCode(.invalidOption, "an id that is not a UUID") {
        try await q1.send("x", options: SendOptions(dependsOn: ["job-1"]))
    }
    try await expectCode(.invalidOption, "an untracked id") {
        try await q1.send("x", options: SendOptions(dependsOn: [untracked.id()]))
    }
    try await expectCode(.invalidOption, "a later entry") {
        try await q1.sendBatch([OutgoingMessage(body: Data("0".utf8), after: [1]), OutgoingMessage(body: Data("1".utf8))])
    }
    try await expectCode(.invalidOption, "track: false with dependencies") {
        try await q1.send("x", options: try SendOptions(delay: .seconds(1), track: false, dependsOn: [a.id()]))
    }
    try checkEqual(try await q1.stats().messages, before, "nothing was written")
}

// ---- the run ---------------------------------------------------------------------------------------

func runAll() async -> Int32 {
    let tally = Tally()
    let watchdogSeconds = 300
    DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(watchdogSeconds)) {
        let (passed, failed) = tally.summary(extraFailed: 1)
        say("swift: watchdog: the suite did not finish within \(watchdogSeconds) s")
        say("swift: \(passed) passed, \(failed) failed")
        exit(2)
    }

    guard let dsn = ProcessInfo.processInfo.environment["DATABASE_URL"], !dsn.isEmpty else {
        say("DATABASE_URL is not set: run through tests/with-postgres.sh (bindings-uniffi/swift/run-tests.sh does)")
        say("swift: 0 passed, 1 failed")
        return 1
    }
    let client: Client
    do {
        let connected = try await within(30, "Client.connect") { try await Client.connect(dsn: dsn) }
        _ = try await within(30, "client.migrate()") { try await connected.migrate() }
        client = connected
    } catch {
        say("cannot connect and migrate: \(error)")
        say("swift: 0 passed, 1 failed")
        return 1
    }
    let ctx = TestContext(client: client, dsn: dsn)

    for (name, body) in allTests() + layerTests() {
        let started = nowMs()
        do {
            try await within(60, name) { try await body(ctx) }
            tally.record(true)
            say("ok - \(name) (\(Int(nowMs() - started)) ms)")
        } catch {
            tally.record(false)
            say("FAILED - \(name): \(error)")
        }
        await ctx.cleanup()
    }
    await client.close()
    let (passed, failed) = tally.summary()
    say("swift: \(passed) passed, \(failed) failed")
    return failed == 0 ? 0 : 1
}

let exitCode = await runAll()
exit(exitCode)
