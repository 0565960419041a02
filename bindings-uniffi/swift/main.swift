// Swift tests of the pgmq bindings (uniffi): the core scenarios of the Kotlin suite, against a real
// PostgreSQL ($DATABASE_URL). run-tests.sh compiles this file together with the generated
// target/uniffi/swift/Pgmq.swift into one executable (module PgmqSwiftTests, the C module PgmqFFI from
// PgmqFFI.modulemap) linked with libpgmq_uniffi, and runs it. It prints one line per test and, last,
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
    ]
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

    for (name, body) in allTests() {
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
