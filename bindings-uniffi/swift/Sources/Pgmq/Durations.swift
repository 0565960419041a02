// `Duration` for every option and argument the generated API takes in milliseconds (`...Ms`):
// `QueueOptions(ackDeadline: .seconds(30))`, `SendOptions(delay: .seconds(5))`,
// `ReceiveOptions(pollInterval: .seconds(10))`, `ClientOptions(connectTimeout: .seconds(3))`,
// `Backoff(base: .seconds(1), max: .seconds(600))`, `sent.completed(pollInterval: .seconds(5))`,
// `message.nack(delay: .seconds(1))`, `message.extend(by: .seconds(90))`. Each throws
// `PgmqError.InvalidOption` (code `.invalidOption`) for a negative duration, as the core does in the
// languages whose durations can be negative; the core checks every other bound itself.
//
// An options type with several durations has one initializer per duration, that duration being the
// first one it requires (`QueueOptions(ackDeadline:...)`, `QueueOptions(retentionPeriod:...)`): with all
// of them optional, `QueueOptions()` would be ambiguous with the generated initializer. Arguments left
// out keep the generated defaults (which are the core's).

/// `duration` in whole milliseconds, as the generated API takes it: exact for whole milliseconds (integer
/// arithmetic, no floating point); a rest below a millisecond rounds up, so that a delay is never shorter
/// than asked and a positive duration never becomes 0; past `UInt64.max` ms it stays `UInt64.max`, which
/// the core refuses as too long. A negative duration is `PgmqError.InvalidOption` naming `what`.
@available(macOS 13, iOS 16, tvOS 16, watchOS 9, *)
func wholeMilliseconds(_ duration: Duration, for what: String) throws -> UInt64 {
    guard duration >= .zero else {
        throw PgmqError.InvalidOption(reason: "invalid option: \(what) must not be negative, got \(duration)")
    }
    let attosecondsPerMillisecond: Int64 = 1_000_000_000_000_000
    let (seconds, attoseconds) = duration.components
    let (milliseconds, rest) = attoseconds.quotientAndRemainder(dividingBy: attosecondsPerMillisecond)
    let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1000)
    let (total, carry) = whole.addingReportingOverflow(UInt64(milliseconds) + (rest > 0 ? 1 : 0))
    return overflow || carry ? UInt64.max : total
}

@available(macOS 13, iOS 16, tvOS 16, watchOS 9, *)
extension QueueOptions {
    /// How long a delivered message stays leased without a heartbeat (`ackDeadlineMs`).
    public var ackDeadline: Duration { .milliseconds(ackDeadlineMs) }

    /// How long an unconsumed message is kept (`retentionPeriodMs`).
    public var retentionPeriod: Duration { .milliseconds(retentionPeriodMs) }

    /// Queue options with the ack deadline (and the retention period) as `Duration`s.
    /// `PgmqError.InvalidOption` for a negative one; the core refuses an ack deadline under 1 s.
    public init(
        ackDeadline: Duration,
        maxDeliveryAttempts: UInt32 = QueueOptions().maxDeliveryAttempts,
        retentionPeriod: Duration? = nil,
        deadLetterQueue: DeadLetterQueueOptions? = nil,
        createDeadLetterQueue: Bool = QueueOptions().createDeadLetterQueue,
        backoff: Backoff? = nil
    ) throws {
        self.init(
            maxDeliveryAttempts: maxDeliveryAttempts, deadLetterQueue: deadLetterQueue,
            createDeadLetterQueue: createDeadLetterQueue, backoff: backoff)
        ackDeadlineMs = try wholeMilliseconds(ackDeadline, for: "ackDeadline")
        if let retentionPeriod = retentionPeriod {
            retentionPeriodMs = try wholeMilliseconds(retentionPeriod, for: "retentionPeriod")
        }
    }

    /// Queue options with the retention period as a `Duration` (the default ack deadline).
    /// `PgmqError.InvalidOption` for a negative one.
    public init(
        maxDeliveryAttempts: UInt32 = QueueOptions().maxDeliveryAttempts,
        retentionPeriod: Duration,
        deadLetterQueue: DeadLetterQueueOptions? = nil,
        createDeadLetterQueue: Bool = QueueOptions().createDeadLetterQueue,
        backoff: Backoff? = nil
    ) throws {
        self.init(
            maxDeliveryAttempts: maxDeliveryAttempts, deadLetterQueue: deadLetterQueue,
            createDeadLetterQueue: createDeadLetterQueue, backoff: backoff)
        retentionPeriodMs = try wholeMilliseconds(retentionPeriod, for: "retentionPeriod")
    }
}

@available(macOS 13, iOS 16, tvOS 16, watchOS 9, *)
extension DeadLetterQueueOptions {
    /// The lease length in the dead-letter queue (`ackDeadlineMs`).
    public var ackDeadline: Duration { .milliseconds(ackDeadlineMs) }

    /// How long an unconsumed dead letter is kept (`retentionPeriodMs`).
    public var retentionPeriod: Duration { .milliseconds(retentionPeriodMs) }

    /// Dead-letter queue options with the ack deadline (and the retention period) as `Duration`s.
    /// `PgmqError.InvalidOption` for a negative one.
    public init(
        ackDeadline: Duration,
        maxDeliveryAttempts: UInt32 = DeadLetterQueueOptions().maxDeliveryAttempts,
        retentionPeriod: Duration? = nil
    ) throws {
        self.init(maxDeliveryAttempts: maxDeliveryAttempts)
        ackDeadlineMs = try wholeMilliseconds(ackDeadline, for: "ackDeadline")
        if let retentionPeriod = retentionPeriod {
            retentionPeriodMs = try wholeMilliseconds(retentionPeriod, for: "retentionPeriod")
        }
    }

    /// Dead-letter queue options with the retention period as a `Duration` (the default ack deadline).
    /// `PgmqError.InvalidOption` for a negative one.
    public init(
        maxDeliveryAttempts: UInt32 = DeadLetterQueueOptions().maxDeliveryAttempts,
        retentionPeriod: Duration
    ) throws {
        self.init(maxDeliveryAttempts: maxDeliveryAttempts)
        retentionPeriodMs = try wholeMilliseconds(retentionPeriod, for: "retentionPeriod")
    }
}

@available(macOS 13, iOS 16, tvOS 16, watchOS 9, *)
extension ReceiveOptions {
    /// The safety-net re-read interval while idle (`pollIntervalMs`).
    public var pollInterval: Duration { .milliseconds(pollIntervalMs) }

    /// Receive options with the poll interval as a `Duration`. `PgmqError.InvalidOption` for a negative
    /// one; the core refuses 0 when the receiver is made.
    public init(
        batchSize: UInt32 = ReceiveOptions().batchSize,
        filter: Filter? = nil,
        pollInterval: Duration,
        onError: ReceiveErrorHandler? = nil
    ) throws {
        self.init(batchSize: batchSize, filter: filter, onError: onError)
        pollIntervalMs = try wholeMilliseconds(pollInterval, for: "pollInterval")
    }
}

@available(macOS 13, iOS 16, tvOS 16, watchOS 9, *)
extension SendOptions {
    /// The delay before delivery (`delayMs`), if any.
    public var delay: Duration? { delayMs.map { Duration.milliseconds($0) } }

    /// How long a send to a full bounded queue waits for room (`waitForRoomMs`); `nil`: the core's
    /// default, `defaults().send.waitForRoomMs` (30 s).
    public var waitForRoom: Duration? { waitForRoomMs.map { Duration.milliseconds($0) } }

    /// Send options with a delay before delivery: the message is delivered no earlier than `delay` after
    /// the send (or after its last dependency completed, if later). `waitForRoom`, `group` and
    /// `dependsOn` as in the initializer below. `PgmqError.InvalidOption` for a negative duration.
    public init(
        delay: Duration,
        attributes: [String: AttributeValue] = [:],
        track: Bool = SendOptions().track,
        waitForRoom: Duration? = nil,
        group: String? = nil,
        dependsOn: [String] = []
    ) throws {
        self.init(attributes: attributes, track: track, group: group, dependsOn: dependsOn)
        delayMs = try wholeMilliseconds(delay, for: "delay")
        if let waitForRoom = waitForRoom {
            waitForRoomMs = try wholeMilliseconds(waitForRoom, for: "waitForRoom")
        }
    }

    /// Send options saying how long a send to a full bounded queue (`QueueOptions.maxMessages`) waits for
    /// room, woken as soon as workers finish messages, before it throws `PgmqError.QueueFull` having
    /// written nothing: `.zero` throws at once. `group`: the job group the messages join
    /// (`client.cancelGroup(_:)`, `waitForGroup(_:)`, `groupStats(_:)`). `dependsOn`: ids of messages
    /// already sent that every message of the send waits for (`SendOptions.dependsOn`).
    /// `PgmqError.InvalidOption` for a negative duration.
    public init(
        waitForRoom: Duration,
        attributes: [String: AttributeValue] = [:],
        track: Bool = SendOptions().track,
        group: String? = nil,
        dependsOn: [String] = []
    ) throws {
        self.init(attributes: attributes, track: track, group: group, dependsOn: dependsOn)
        waitForRoomMs = try wholeMilliseconds(waitForRoom, for: "waitForRoom")
    }
}

@available(macOS 13, iOS 16, tvOS 16, watchOS 9, *)
extension NackOptions {
    /// The delay before redelivery (`delayMs`), if any.
    public var delay: Duration? { delayMs.map { Duration.milliseconds($0) } }

    /// Nack options with a delay before redelivery. `PgmqError.InvalidOption` for a negative one.
    public init(delay: Duration, error: String? = nil) throws {
        self.init(error: error)
        delayMs = try wholeMilliseconds(delay, for: "delay")
    }
}

@available(macOS 13, iOS 16, tvOS 16, watchOS 9, *)
extension ClientOptions {
    /// How long to wait for one host to accept a connection (`connectTimeoutMs`).
    public var connectTimeout: Duration { .milliseconds(connectTimeoutMs) }

    /// The longest a statement, or a wait for a pool connection, may take (`statementTimeoutMs`).
    public var statementTimeout: Duration { .milliseconds(statementTimeoutMs) }

    /// How long `connect` keeps trying a server that cannot be reached yet (`connectRetryMs`).
    public var connectRetry: Duration { .milliseconds(connectRetryMs) }

    /// Client options with the connect timeout (and the other durations) as `Duration`s.
    /// `PgmqError.InvalidOption` for a negative one; the core refuses a timeout of 0 on `connect`.
    public init(
        listenDsn: String? = nil,
        poolSize: UInt32 = ClientOptions().poolSize,
        connectTimeout: Duration,
        applicationName: String? = nil,
        statementTimeout: Duration? = nil,
        statementCache: Bool? = nil,
        connectRetry: Duration? = nil,
        schema: String? = nil
    ) throws {
        self.init(
            listenDsn: listenDsn, poolSize: poolSize, applicationName: applicationName,
            statementCache: statementCache, schema: schema)
        connectTimeoutMs = try wholeMilliseconds(connectTimeout, for: "connectTimeout")
        if let statementTimeout = statementTimeout {
            statementTimeoutMs = try wholeMilliseconds(statementTimeout, for: "statementTimeout")
        }
        if let connectRetry = connectRetry {
            connectRetryMs = try wholeMilliseconds(connectRetry, for: "connectRetry")
        }
    }

    /// Client options with the statement timeout (and the connect retry) as `Duration`s (the default
    /// connect timeout). `PgmqError.InvalidOption` for a negative one.
    public init(
        listenDsn: String? = nil,
        poolSize: UInt32 = ClientOptions().poolSize,
        applicationName: String? = nil,
        statementTimeout: Duration,
        statementCache: Bool? = nil,
        connectRetry: Duration? = nil,
        schema: String? = nil
    ) throws {
        self.init(
            listenDsn: listenDsn, poolSize: poolSize, applicationName: applicationName,
            statementCache: statementCache, schema: schema)
        statementTimeoutMs = try wholeMilliseconds(statementTimeout, for: "statementTimeout")
        if let connectRetry = connectRetry {
            connectRetryMs = try wholeMilliseconds(connectRetry, for: "connectRetry")
        }
    }

    /// Client options with the connect retry as a `Duration` (the default timeouts).
    /// `PgmqError.InvalidOption` for a negative one.
    public init(
        listenDsn: String? = nil,
        poolSize: UInt32 = ClientOptions().poolSize,
        applicationName: String? = nil,
        statementCache: Bool? = nil,
        connectRetry: Duration,
        schema: String? = nil
    ) throws {
        self.init(
            listenDsn: listenDsn, poolSize: poolSize, applicationName: applicationName,
            statementCache: statementCache, schema: schema)
        connectRetryMs = try wholeMilliseconds(connectRetry, for: "connectRetry")
    }
}

@available(macOS 13, iOS 16, tvOS 16, watchOS 9, *)
extension Backoff {
    /// The delay after the first failed attempt (`baseMs`).
    public var base: Duration { .milliseconds(baseMs) }

    /// The longest delay (`maxMs`).
    public var max: Duration { .milliseconds(maxMs) }

    /// A nack backoff policy with its first delay (and its longest) as `Duration`s.
    /// `PgmqError.InvalidOption` for a negative one; the core checks the rest when the queue is created.
    public init(base: Duration, factor: Double = Backoff().factor, max: Duration? = nil, jitter: Bool = Backoff().jitter) throws {
        self.init(factor: factor, jitter: jitter)
        baseMs = try wholeMilliseconds(base, for: "backoff base")
        if let max = max {
            maxMs = try wholeMilliseconds(max, for: "backoff max")
        }
    }

    /// A nack backoff policy with its longest delay as a `Duration` (the default first delay).
    /// `PgmqError.InvalidOption` for a negative one.
    public init(factor: Double = Backoff().factor, max: Duration, jitter: Bool = Backoff().jitter) throws {
        self.init(factor: factor, jitter: jitter)
        maxMs = try wholeMilliseconds(max, for: "backoff max")
    }
}

@available(macOS 13, iOS 16, tvOS 16, watchOS 9, *)
extension QueueInfo {
    /// The queue's ack deadline (`ackDeadlineMs`).
    public var ackDeadline: Duration { .milliseconds(ackDeadlineMs) }

    /// The queue's retention period (`retentionPeriodMs`).
    public var retentionPeriod: Duration { .milliseconds(retentionPeriodMs) }
}

@available(macOS 13, iOS 16, tvOS 16, watchOS 9, *)
extension QueueOverview {
    /// How long the oldest ready message has waited (`oldestReadyAgeMs`); `nil` when none is ready.
    public var oldestReadyAge: Duration? { oldestReadyAgeMs.map { Duration.milliseconds($0) } }
}

@available(macOS 13, iOS 16, tvOS 16, watchOS 9, *)
extension SentMessage {
    /// `completed(pollIntervalMs:)` with the safety-net re-read interval as a `Duration`.
    /// `PgmqError.InvalidOption` for a negative one (the core refuses 0).
    public func completed(pollInterval: Duration) async throws -> Outcome {
        try await completed(pollIntervalMs: wholeMilliseconds(pollInterval, for: "pollInterval"))
    }
}

@available(macOS 13, iOS 16, tvOS 16, watchOS 9, *)
extension SentBatch {
    /// `completed(pollIntervalMs:)` with the safety-net re-read interval as a `Duration`.
    /// `PgmqError.InvalidOption` for a negative one (the core refuses 0).
    public func completed(pollInterval: Duration) async throws -> [String: Outcome] {
        try await completed(pollIntervalMs: wholeMilliseconds(pollInterval, for: "pollInterval"))
    }
}

@available(macOS 13, iOS 16, tvOS 16, watchOS 9, *)
extension Queue {
    /// `waitForCompletion(ids:pollIntervalMs:)` with the safety-net re-read interval as a `Duration`.
    /// `PgmqError.InvalidOption` for a negative one (the core refuses 0).
    public func waitForCompletion(ids: [String], pollInterval: Duration) async throws -> [String: Outcome] {
        try await waitForCompletion(ids: ids, pollIntervalMs: wholeMilliseconds(pollInterval, for: "pollInterval"))
    }
}

@available(macOS 13, iOS 16, tvOS 16, watchOS 9, *)
extension Lease {
    /// Extends the lease to `duration` from now (`extend(ms:)`; the heartbeat keeps extending it
    /// afterwards). `PgmqError.InvalidOption` for a negative duration.
    public func extend(by duration: Duration) async throws {
        try await extend(ms: wholeMilliseconds(duration, for: "extend"))
    }
}
