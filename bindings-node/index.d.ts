/**
 * pgmq: a message queue inside PostgreSQL, for Node.
 *
 * ```ts
 * import { connect } from 'pgmq'
 * await using client = await connect(process.env.DATABASE_URL!)
 * await client.migrate()
 * await client.createQueue('jobs')
 * const jobs = client.queue('jobs')
 * const sent = await jobs.send({ resize: 42 }) // JSON, with the attribute content-type: application/json
 * for await (const msg of jobs.receive()) { console.log(msg.json<{ resize: number }>().resize); await msg.ack(); break }
 * await sent.completed() // 'completed'
 * ```
 *
 * Bodies are bytes (`Buffer`, `Uint8Array`, ...: sent as they are, the fastest path), strings (their UTF-8 text)
 * or any other value, serialized by the queue's {@link Serializer} (JSON by default) and labelled with the
 * attribute `content-type` (see {@link Queue.send}).
 *
 * Every message is delivered to one worker at a time under a lease that the client extends while the
 * worker holds the message; a worker that fails (`nack`, a thrown handler) or dies gets its message
 * redelivered, and after `maxDeliveryAttempts` it moves to the queue's dead-letter queue.
 *
 * Errors: arguments of the wrong type throw `TypeError`, out-of-range numbers given to a call (`delayMs`,
 * `batchSize`, `extend(ms)`) `RangeError`; everything the queue itself refuses — options out of range
 * (`connect`, `createQueue`), filters nested too deep, values the database cannot hold — is a
 * {@link PgmqError} subclass with a stable `code` ({@link InvalidOptionError} for those).
 * @packageDocumentation
 */

/// <reference types="node" />

/** How a message finished (the core's names). */
export type Outcome = 'completed' | 'dead_lettered' | 'cancelled' | 'expired'
/** The outcomes by name: `Outcome.Completed === 'completed'`. */
export declare const Outcome: {
  readonly Completed: 'completed'
  readonly DeadLettered: 'dead_lettered'
  readonly Cancelled: 'cancelled'
  readonly Expired: 'expired'
}

/**
 * Where a message stands, as {@link Queue.peek} reads it (the core's names). The five are disjoint and cover
 * every message of a queue: `ready` (the next receive may lease it), `scheduled` (waiting for its time or a nack
 * delay), `leased` (held by a worker), `lapsed` (its lease ran out on its last attempt, or while it was being
 * cancelled: housekeeping dead-letters or drops it within a maintenance interval; never delivered again),
 * `waiting` (for the messages it depends on to complete: {@link SendOptions.dependsOn}; its `availableAt` reads
 * 9999-12-31T23:59:59Z).
 */
export type MessageState = 'ready' | 'scheduled' | 'leased' | 'lapsed' | 'waiting'
/** The message states by name: `MessageState.Ready === 'ready'`. */
export declare const MessageState: {
  readonly Ready: 'ready'
  readonly Scheduled: 'scheduled'
  readonly Leased: 'leased'
  readonly Lapsed: 'lapsed'
  readonly Waiting: 'waiting'
}

/**
 * Every default and limit of pgmq, read from the Rust core (`pgmq_core::DEFAULTS`, the table every language
 * reads): the core's names in lowerCamelCase, durations in milliseconds under names ending in `Ms`. An option left
 * out means this value.
 *
 * ```ts
 * import { DEFAULTS } from 'pgmq'
 * console.log(DEFAULTS.queue.ackDeadlineMs, DEFAULTS.peek.maxLimit) // 10000 10000
 * ```
 */
export interface Defaults {
  /** A new queue ({@link QueueOptions}). */
  readonly queue: {
    readonly ackDeadlineMs: number
    readonly maxDeliveryAttempts: number
    readonly retentionPeriodMs: number
    /** Whether a dead-letter queue is created with the queue. */
    readonly deadLetterQueue: boolean
    /** Whether nacks without a delay follow a backoff policy. */
    readonly backoff: boolean
    /** The most messages a queue holds: `null`, queues are unbounded. */
    readonly maxMessages: number | null
  }
  /** The dead-letter queue created with it ({@link DeadLetterQueueOptions}). */
  readonly deadLetterQueue: {
    readonly ackDeadlineMs: number
    readonly maxDeliveryAttempts: number
    readonly retentionPeriodMs: number
  }
  /** A backoff policy's values left out ({@link BackoffOptions}). */
  readonly backoff: {
    readonly baseMs: number
    readonly factor: number
    readonly maxMs: number
    readonly jitter: boolean
  }
  /** A send ({@link SendOptions}). */
  readonly send: {
    readonly track: boolean
    /** How long a send to a full bounded queue waits for room before it fails with {@link QueueFullError}. */
    readonly waitForRoomMs: number
    /** While it waits, the safety-net re-try (the acks' notifications do the waking). */
    readonly roomPollIntervalMs: number
  }
  /** A receiver ({@link ReceiveOptions}); `maxBatchSize` is the largest `batchSize` accepted. */
  readonly receive: {
    readonly batchSize: number
    readonly maxBatchSize: number
    readonly pollIntervalMs: number
  }
  /** Waiting for outcomes: the safety-net re-read of the outcome records. */
  readonly completion: {
    readonly pollIntervalMs: number
  }
  /** A request ({@link RequestOptions}): how long it waits for its reply. */
  readonly request: {
    readonly timeoutMs: number
  }
  /** A peek ({@link PeekOptions}); `maxLimit` is the largest `limit` accepted. */
  readonly peek: {
    readonly limit: number
    readonly maxLimit: number
  }
  /** A client ({@link ConnectOptions}) and its connections. */
  readonly client: {
    readonly poolSize: number
    readonly connectTimeoutMs: number
    readonly statementTimeoutMs: number
    readonly connectRetryMs: number
    /** How often a client offers to run housekeeping. */
    readonly maintenanceIntervalMs: number
    readonly schema: string
    /** The Rust client's `application_name`; Node's is `applicationNamePrefix` + `'node'`. */
    readonly applicationName: string
    readonly applicationNamePrefix: string
    readonly keepalivesIdleMs: number
    readonly keepalivesIntervalMs: number
    readonly keepalivesCount: number
    readonly tcpUserTimeoutMs: number
    /** First pause after a connection error (receivers, connect retries), doubling up to `reconnectBackoffMaxMs`. */
    readonly reconnectBackoffMinMs: number
    readonly reconnectBackoffMaxMs: number
  }
  /** Bounds checked before anything is written ({@link InvalidOptionError}, {@link InvalidQueueNameError} beyond). */
  readonly limits: {
    readonly maxSendBytes: number
    readonly maxQueueNameLen: number
    readonly maxSchemaNameLen: number
    readonly maxFilterDepth: number
    readonly minAckDeadlineMs: number
    readonly maxDeliveryAttempts: number
    readonly maxDurationMs: number
    /** Ids one NOTIFY payload lists before it says `*` instead. */
    readonly notifyMaxIds: number
    /** The largest `maxMessages` of a bounded queue: 2^63 - 1, which a JS number shows as 2^63 (either is taken as this limit). */
    readonly maxMessages: number
    /** How long `migrate()` waits for a lock before it fails with {@link PgmqTimeoutError}. */
    readonly migrateLockTimeoutMs: number
    /** The longest job group id, in bytes of UTF-8 ({@link SendOptions.group}). */
    readonly maxGroupLen: number
    /** The most dependencies one message has: {@link SendOptions.dependsOn} and its entry's `after` together. */
    readonly maxDependencies: number
  }
  /** Names every language uses alike. */
  readonly conventions: {
    readonly dlqPrefix: string
    readonly contentTypeAttribute: string
    readonly jsonContentType: string
  }
}
/** Every default and limit of pgmq, from the core: see {@link Defaults}. Frozen. */
export declare const DEFAULTS: Defaults

/** One error code of the core. */
export interface ErrorCodeInfo {
  /** The code, e.g. `'queue_not_found'`. */
  readonly code: ErrorCode
  /** Whether trying again later may succeed. */
  readonly transient: boolean
  /** What it means, in one line. */
  readonly description: string
}
/** Every error code of the core (`pgmq_core::ERROR_CODES`), in its order; each is one class below (docs/errors.md). Frozen. */
export declare const ERROR_CODES: readonly ErrorCodeInfo[]

/** A message body sent as it is: bytes (a `Buffer`, any typed array or `DataView`, an `ArrayBuffer`), or a string (its UTF-8 text). Received bodies are always `Buffer`s. */
export type Body = Buffer | Uint8Array | ArrayBufferView | ArrayBuffer | string

/** An attribute value. Numbers compare numerically in filters, strings textually. */
export type AttributeValue = string | number | boolean | null
/** Message attributes: a flat object of scalars, which receivers can filter on. */
export type Attributes = Record<string, AttributeValue>

/** The stable error codes of the core, the same in every language ({@link ERROR_CODES}), and `'cancelled'`, the code of the reason {@link Message.cancelled} aborts with. */
export type ErrorCode =
  | 'invalid_queue_name'
  | 'invalid_option'
  | 'queue_not_found'
  | 'message_not_found'
  | 'request_failed'
  | 'queue_full'
  | 'lease_lost'
  | 'already_finished'
  | 'not_tracked'
  | 'schema_missing'
  | 'schema_conflict'
  | 'connection'
  | 'timeout'
  | 'database'
  | 'closed'
  | 'cancelled'
  | 'internal'

/** Base class of every error pgmq raises itself. */
export declare class PgmqError extends Error {
  /** The stable code of the failure (e.g. `'queue_not_found'`). */
  readonly code: ErrorCode | (string & {})
  /** Whether trying again later may succeed: the core's table says so of `connection` and `timeout` ({@link ConnectionError}, {@link PgmqTimeoutError}), which receivers retry by themselves, and of `queue_full` ({@link QueueFullError}). */
  get transient(): boolean
  /** The code of this class's errors, the default of the constructor's `code` (`HandleError`: `'already_finished'`; `PgmqError`: `'pgmq'`). */
  static readonly code: string
  constructor(message: string, code?: string, options?: ErrorOptions)
}
/** The queue name is empty, longer than 48 characters, not `[a-zA-Z0-9_-]`, or (to create) starts with `dlq@`. */
export declare class InvalidQueueNameError extends PgmqError {}
/** An option has a value the queue cannot accept (e.g. `ackDeadlineMs` below 1000, `maxDeliveryAttempts` below 1, a `NaN` attribute, a peek `limit` of 0). */
export declare class InvalidOptionError extends PgmqError {}
/** There is no queue of that name. */
export declare class QueueNotFoundError extends PgmqError {}
/** A message id is neither queued nor has an outcome recorded. */
export declare class MessageNotFoundError extends PgmqError {}
/**
 * A request ({@link Queue.request}) finished without a reply: it was dead-lettered (its worker failed on every
 * attempt), cancelled or expired, rather than completed.
 */
export declare class RequestFailedError extends PgmqError {
  /** The request message's id. */
  readonly messageId: string
  /** How it finished: never `'completed'`. */
  readonly outcome: Outcome
}
/**
 * A bounded queue ({@link QueueOptions.maxMessages}) had no room for the whole send, at once (`waitForRoomMs: 0`, or
 * the outbox's {@link Sql.execute}) or within the send's {@link SendOptions.waitForRoomMs}. Nothing was written;
 * sending again once workers have finished messages may succeed (`transient` is true).
 */
export declare class QueueFullError extends PgmqError {}
/** The lease was lost (it expired and the message was redelivered, or it is gone): nothing changed. */
export declare class LeaseLostError extends PgmqError {}
/** A handle was used in a way its state does not allow: `already_finished` (acked, nacked or released before) or `not_tracked` (waiting on a message sent with `track: false`). */
export declare class HandleError extends PgmqError {}
/** The `pgmq` schema is missing or outdated: call `client.migrate()`. */
export declare class SchemaMissingError extends PgmqError {}
/** `client.migrate()` found a `pgmq` schema that is not pgmq's: it belongs to an extension (Tembo's pgmq extension, which Supabase Queues enables, uses the same schema name), or it holds objects but no `pgmq.schema_migrations` table. The message names the schema's owner and the extension or objects, and what to do. Nothing was changed. */
export declare class SchemaConflictError extends PgmqError {}
/** PostgreSQL could not be reached (connecting, or a connection broke). Retrying is safe. */
export declare class ConnectionError extends PgmqError {}
/** The server did not answer in time: a lock wait hit `lock_timeout` (`client.migrate()` sets 5 s for its own transaction) or a statement hit `statement_timeout`. Nothing changed; running it again later is safe. Also a {@link Queue.request} that got no reply within its `timeoutMs`: the request was cancelled. (Not named `TimeoutError`, the name of the DOMException an `AbortSignal.timeout()` aborts with.) */
export declare class PgmqTimeoutError extends PgmqError {}
/** PostgreSQL reported an error. */
export declare class DatabaseError extends PgmqError {}
/** The client was closed. */
export declare class ClientClosedError extends PgmqError {}
/** A bug in pgmq: a panic in its Rust core (or a failure of the native addon), caught and reported instead of crashing the process. The operation did not complete; whether it took effect is unknown. The process and other clients keep working. */
export declare class InternalError extends PgmqError {}

/**
 * A condition on message attributes, made with {@link Attribute}: a handle on the Rust core's filter (every key,
 * value and pattern is a bound parameter when it runs). `and` / `or` nest at most {@link MAX_FILTER_DEPTH} (100)
 * levels deep: one that would nest deeper throws {@link InvalidOptionError} (combine long lists pairwise). A value
 * the database cannot hold (`NaN`, a string with NUL) or a `LIKE` pattern ending in a lone `\` is an
 * {@link InvalidOptionError} when the filter is used (`receive`, `process`). `new Filter()` is a `TypeError`.
 */
export declare class Filter {
  private constructor()
  /** Both conditions hold. */
  and(other: Filter): Filter
  /** Either condition holds. */
  or(other: Filter): Filter
  /** The filter as the core prints it (for logs). */
  toString(): string
}

/** How deeply `and` / `or` may nest in one {@link Filter}: the core's limit (100), `DEFAULTS.limits.maxFilterDepth`. */
export declare const MAX_FILTER_DEPTH: number

/** The conditions on one attribute. A value or pattern of the wrong type is a `TypeError`. */
export interface AttributeCondition {
  /** The attribute's key. */
  readonly key: string
  /** Equal (and of the same type). */
  eq(value: AttributeValue): Filter
  /** Present and not equal (a message without the attribute does not match). */
  ne(value: AttributeValue): Filter
  /** Less than (same type only: numbers numerically, strings textually). */
  lt(value: AttributeValue): Filter
  /** Greater than. */
  gt(value: AttributeValue): Filter
  /** Less than or equal. */
  le(value: AttributeValue): Filter
  /** Greater than or equal. */
  ge(value: AttributeValue): Filter
  /** Present and `null`. */
  isNull(): Filter
  /** Present and not `null`. */
  isNotNull(): Filter
  /** A string matching a SQL `LIKE` pattern (`%`, `_`). */
  isLike(pattern: string): Filter
  /** A string not matching a SQL `LIKE` pattern. */
  isNotLike(pattern: string): Filter
  /** Present (any value). */
  exists(): Filter
  /** Absent. */
  doesNotExist(): Filter
}

/** Starts a filter on attribute `key`: `Attribute('color').eq('red').and(Attribute('size').gt(3))`. */
export declare function Attribute(key: string): AttributeCondition

/** The name of the dead-letter queue created with queue `name`: `dlq@<name>`. */
export declare function getDlqName(name: string): string

/** The attribute that says how a body is encoded (`'content-type'`), the core's name in every language. */
export declare const CONTENT_TYPE_ATTRIBUTE: string
/** Its value for UTF-8 JSON (`'application/json'`), set by every language's JSON send. */
export declare const JSON_CONTENT_TYPE: string

/**
 * How a queue turns values into bodies and back ({@link Client.queue}). `serialize` may return a string (sent as
 * UTF-8) or bytes; `contentType` becomes the message's `content-type` attribute, so that readers in any language
 * know how to decode it.
 */
export interface Serializer<T> {
  /** The `content-type` attribute of the bodies it makes (e.g. `'application/json'`). */
  readonly contentType: string
  /** The body of `value`. A throw rejects the send. */
  serialize(value: T): string | Uint8Array
  /** The value of a received body ({@link Message.json}). */
  deserialize(body: Buffer): T
}

/**
 * UTF-8 JSON: `JSON.stringify` out, `JSON.parse` back, content type {@link JSON_CONTENT_TYPE}. The default for
 * values that are not bytes or strings; give it to {@link Client.queue} to make a typed queue whose strings are
 * JSON strings too.
 */
export declare const jsonSerializer: Serializer<any>

/** Options of {@link Client.queue}. */
export interface QueueHandleOptions<T> {
  /**
   * Serializes every body that is not bytes, strings included (default: none, so strings are sent as their text
   * and other values as JSON).
   */
  serializer?: Serializer<T>
}

/** The level of a log event, most severe first. */
export type LogLevel = 'error' | 'warn' | 'info' | 'debug'

/** Where {@link setLogger} sends log events: `console`, or any object with some of these methods. */
export interface Logger {
  error?(message: string): void
  warn?(message: string): void
  info?(message: string): void
  debug?(message: string): void
}

/**
 * Where pgmq's log events go, for the whole process: the core's (a lost LISTEN connection, a failed heartbeat or
 * housekeeping run, a receiver retrying after an error, a connect retry, a migration applied) and this package's
 * own (an automatic ack of `process()` that failed, an `onError` handler that threw). They come from the Rust core,
 * which logs for every client of the process at once, so this is a process-wide setting, not a client option.
 *
 * Without a logger (the default, and after `setLogger(null)`), warnings and errors become process warnings:
 * `process.emitWarning(message, { type: 'PgmqWarning', code: 'PGMQ_WARN' | 'PGMQ_ERROR' })` (listen with
 * `process.on('warning', ...)`), and info and debug events are dropped. With one, each event calls the method of
 * its level with one line of text; a level without a method is dropped (events less severe than the most verbose
 * method present do not even cross from the core), and a method that throws is reported as a `PGMQ_ERROR` warning. Events reach
 * JS on the main thread, soon after they happen; they never keep the process alive.
 *
 * ```ts
 * setLogger(console) // every level
 * setLogger({ warn: (m) => log.warn(m), error: (m) => log.error(m) })
 * ```
 */
export declare function setLogger(logger: Logger | null): void

/** Options of {@link connect}. A number out of range is an {@link InvalidOptionError} (a non-number a `TypeError`). */
export interface ConnectOptions {
  /** A separate DSN for the one LISTEN connection (e.g. direct to PostgreSQL while work goes through a transaction-pooling PgBouncer). */
  listenDsn?: string
  /** Most pooled connections for statements (a whole number from 1 to 10 000; default 10). */
  poolSize?: number
  /** How long to wait for a connection to one host, ms (> 0; default 10 000). */
  connectTimeoutMs?: number
  /**
   * The longest a statement, or a wait for a free pool connection, may take, ms (default 60 000; must be > 0, else
   * {@link InvalidOptionError}): a statement past it rejects with {@link ConnectionError} (its connection is closed,
   * not reused), a wait with {@link PgmqTimeoutError}. Migrations are not bounded by it.
   */
  statementTimeoutMs?: number
  /**
   * `true`: statements are prepared once per connection and cached; `false`: sent unnamed with their parameter types,
   * as a transaction-pooling PgBouncer before 1.21 needs. Default: cached, unless `listenDsn` is set.
   */
  statementCache?: boolean
  /**
   * How long to keep trying a server that cannot be reached yet (one starting beside this service), with a capped,
   * jittered backoff, ms (default 0: fail at once). A refused login is never retried.
   */
  connectRetryMs?: number
  /** What `pg_stat_activity` shows for this client's connections, unless the DSN or `PGAPPNAME` says (default `'pgmq-node'`). */
  applicationName?: string
  /**
   * How often this client offers to run housekeeping (expiry, lapsed leases, pruning outcome records; one client of
   * the database does it at a time), ms (> 0; default 1000).
   */
  maintenanceIntervalMs?: number
  /**
   * The schema pgmq's tables and functions live in (default `'pgmq'`); another name (a lower-case identifier) lets pgmq
   * share a database with Tembo's pgmq extension, which uses `pgmq`. Every client of one installation must use the same.
   */
  schema?: string
}

/** The settings of a dead-letter queue created together with its queue. */
export interface DeadLetterQueueOptions {
  /** Lease length in the DLQ, ms (>= 1000; default 10 000). */
  ackDeadlineMs?: number
  /** Deliveries before a DLQ message is dropped (>= 1; default 10). */
  maxDeliveryAttempts?: number
  /** How long an unconsumed DLQ message is kept, ms (default 7 days). */
  retentionPeriodMs?: number
}

/** Exponential backoff of nacks that give no delay: `min(baseMs * factor^(attempt-1), maxMs)`. What is left out is the core's default ({@link DEFAULTS}`.backoff`): `backoff: {}` is 1 s doubling up to 10 minutes, jittered. */
export interface BackoffOptions {
  /** Delay after the first failure, ms (default 1000). */
  baseMs?: number
  /** Growth per attempt (>= 1; default 2). */
  factor?: number
  /** Upper bound, ms (default 10 minutes). */
  maxMs?: number
  /** Scale each delay by a random factor in [0.5, 1] (default true). */
  jitter?: boolean
}

/** Options of {@link Client.createQueue}. Fixed once the queue exists, but for `maxMessages` ({@link Queue.setMaxMessages}). */
export interface QueueOptions {
  /** How long a delivered message stays leased without a heartbeat, ms (>= 1000; default 10 000). The client extends it while a worker holds the message. */
  ackDeadlineMs?: number
  /** Deliveries before a message moves to the dead-letter queue (>= 1; default 10). */
  maxDeliveryAttempts?: number
  /** How long an unconsumed message is kept before it moves to the DLQ as `expired`, ms (default 7 days). */
  retentionPeriodMs?: number
  /** The DLQ `dlq@<name>` created with the queue (default: created with default settings); `null`: no DLQ, exhausted messages are dropped. */
  deadLetterQueue?: DeadLetterQueueOptions | null
  /** Backoff of nacks without a delay (default: redeliver at once). */
  backoff?: BackoffOptions | null
  /**
   * A bounded queue: at most this many messages, ready, scheduled and leased together (a whole number from 1 to
   * `DEFAULTS.limits.maxMessages`, else {@link InvalidOptionError}; default: unbounded). A send that would exceed it
   * waits for room or fails with {@link QueueFullError} ({@link SendOptions.waitForRoomMs}); a batch fits whole or not
   * at all. Its dead-letter queue is never bounded. Unlike the other options, it can change later:
   * {@link Queue.setMaxMessages}.
   */
  maxMessages?: number | null
}

/** Options of {@link Queue.send} and {@link Queue.sendBatch}. */
export interface SendOptions {
  /** Deliver no earlier than this many ms after the send (server clock). */
  delayMs?: number
  /** Deliver no earlier than this instant. Not together with `delayMs`. */
  scheduleAt?: Date
  /** Record the outcome so that `completed()` can wait for it (default true). */
  track?: boolean
  /**
   * For a bounded queue ({@link QueueOptions.maxMessages}) without room for the whole send: how long to wait for room,
   * ms, woken as soon as workers finish messages, before rejecting with {@link QueueFullError}; `0` rejects at once
   * (shed the load). Left out: `DEFAULTS.send.waitForRoomMs` (default 30 000). Unbounded queues ignore it.
   */
  waitForRoomMs?: number
  /**
   * The job group the message (every message of a batch) joins: any text of 1 to 255 bytes of UTF-8
   * (`DEFAULTS.limits.maxGroupLen`) without NUL characters, else {@link InvalidOptionError}. The group's messages, in
   * this queue or any other, are then cancelled, awaited and counted together ({@link Client.cancelGroup},
   * {@link Client.waitForGroup}, {@link Client.groupStats}, and the same on a {@link Queue} for its own). A grouped
   * message is tracked: `track: false` with a group is an {@link InvalidOptionError}, and nothing is sent.
   */
  group?: string
  /**
   * Ids of messages already sent (by anyone, in any queue, tracked) that every message of this send depends on: it
   * waits, never claimed ({@link MessageState} `'waiting'`), until they have all completed, then becomes available
   * (at its `delayMs` or `scheduleAt` if later). If one of them is dead-lettered, cancelled or expires instead, the
   * message is cancelled, its {@link Reply.reason} `dependency <id> was <outcome>`, and so are the messages that
   * depend on it. Refused with {@link InvalidOptionError}, nothing sent: an id that is not a UUID, unknown, untracked
   * or already finished other than completed (a completed one counts as met), `track: false`, more than 10 000
   * dependencies for one message (`DEFAULTS.limits.maxDependencies`, counting its entry's `after`). Not an array of
   * strings: `TypeError`. Within one batch, see {@link OutgoingMessage}'s `after`. More: docs/dependencies.md.
   */
  dependsOn?: readonly string[]
  /**
   * Abandons the send: the call rejects with the signal's `reason` once the send has stopped. A send abandoned while
   * it waits for room sends nothing; one whose statement was already on its way to the server may still have been
   * written, as after a lost connection (a send that finished before the abort resolves as usual).
   */
  signal?: AbortSignal
}

/** Options of {@link Queue.send}. */
export interface SendOneOptions extends SendOptions {
  /** Attributes receivers can filter on. */
  attributes?: Attributes
}

/**
 * One message of {@link Queue.sendBatch}: a body or value, or `{ body, attributes?, after? }`. An entry is read as
 * that envelope when it is a plain object with a `body` key and no keys but `body`, `attributes` and `after`; a
 * value of exactly that shape is sent wrapped: `{ body: value }`.
 *
 * `after` lists earlier entries of the same batch (positions, from 0) this one depends on, as
 * {@link SendOptions.dependsOn} does for messages already sent: `sendBatch([fetch, { body: parse, after: [0] }])`.
 * An entry naming itself or a later one is an {@link InvalidOptionError} (nothing sent: no cycle can be made); not
 * an array of numbers, a `TypeError`; a negative or fractional position, a `RangeError`.
 */
export type OutgoingMessage<T = unknown> = Body | T | { body: Body | T; attributes?: Attributes; after?: readonly number[] }

/** Options of {@link Queue.receive}. */
export interface ReceiveOptions {
  /** Messages leased per claim, and most held at once by this stream (default 1). */
  batchSize?: number
  /** Only messages whose attributes match. */
  filter?: Filter
  /** Ends the stream (quietly) and releases its unfinished messages. */
  signal?: AbortSignal
  /** Safety-net re-read of the table while idle, ms (default 30 000); NOTIFY does the real waking. */
  pollIntervalMs?: number
  /** Called with each error the stream recovered from: a lost connection (say, a {@link ConnectionError}) never ends the stream, which retries with a capped, jittered backoff until the server answers. Without it, the core's log warning of each one is all (see {@link setLogger}: by default a `PgmqWarning`, code `PGMQ_WARN`). A throw is logged as an error. */
  onError?: (error: PgmqError) => void
}

/** Options of {@link Queue.process}. */
export interface ProcessOptions<T = unknown> {
  /** Most messages handled at once (default 10). */
  concurrency?: number
  /** Only messages whose attributes match. */
  filter?: Filter
  /** Stops receiving; `process()` resolves once the running handlers have finished. */
  signal?: AbortSignal
  /** Safety-net re-read while idle, ms (default 30 000). */
  pollIntervalMs?: number
  /** Called when a message's automatic ack or nack fails (with that `message`), and with each error receiving recovered from (`message` undefined: a lost connection never ends `process()`, which retries with backoff). Without it, both are logged as warnings (see {@link setLogger}: by default a `PgmqWarning`, code `PGMQ_WARN`). A throw is logged as an error. */
  onError?: (error: unknown, message: Message<T> | undefined) => void
}

/** Options of {@link Message.ack} with a result. */
export interface AckOptions {
  /** The result's content type, for bytes or a string (a serialized value gets its serializer's, which this must equal). Not `''`, no NUL character ({@link InvalidOptionError}: the message stays held). */
  contentType?: string
}

/** Options of {@link Queue.request} and {@link Queue.requestJson}. */
export interface RequestOptions {
  /** Attributes receivers can filter on. */
  attributes?: Attributes
  /**
   * How long to wait for the reply, ms (> 0; default 30 000): then the request is cancelled (never delivered again; a
   * worker holding it sees `message.cancelled` abort, and its late reply is dropped) and the call rejects with
   * {@link PgmqTimeoutError}, unless it finished meanwhile (its reply is returned).
   */
  timeoutMs?: number
  /**
   * Stops waiting: the call rejects at once with the signal's `reason`. The request is not cancelled: once sent, it
   * stays queued, a worker may still answer it, and nobody reads the reply (give `timeoutMs` for a deadline that
   * cancels it, or `queue.cancel([id])` it yourself).
   */
  signal?: AbortSignal
}

/** Options of {@link Message.nack}. */
export interface NackOptions {
  /** Redeliver after this many ms (default: the queue's backoff, or at once). */
  delayMs?: number
  /** Why it failed: kept as the message's `lastError` and carried into the DLQ. */
  error?: string
}

/** Counts of one queue's messages at one instant. */
export interface QueueStats {
  /** Every message in the queue: ready, scheduled and leased. */
  messages: number
  /** Available for delivery now. */
  ready: number
  /** Waiting for their time (a delay, a schedule or a nack backoff), or for the messages they depend on ({@link SendOptions.dependsOn}). */
  scheduled: number
  /** Held by a worker under a live lease. */
  leased: number
  /** Messages in the queue's dead-letter queue. */
  deadLettered: number
}

/**
 * A job group's messages ({@link SendOptions.group}) at one instant: those still in a queue by state, and the finished
 * ones by outcome, for as long as their outcome is kept (the queue's `retentionPeriodMs`). {@link Client.groupStats}
 * counts every queue, {@link Queue.groupStats} one. An unknown group counts zero everywhere.
 */
export interface GroupStats {
  /** Still in a queue: ready, scheduled and leased. */
  messages: number
  /** Available for delivery now. */
  ready: number
  /** Waiting for their time (a delay, a schedule or a nack backoff), or for the messages they depend on ({@link SendOptions.dependsOn}). */
  scheduled: number
  /** Held by a worker under a live lease. */
  leased: number
  /** Finished: acked. */
  completed: number
  /** Finished: dead-lettered, their attempts spent (unlike {@link QueueStats.deadLettered}, a count of outcomes, not a DLQ's depth). */
  deadLettered: number
  /** Finished: cancelled. */
  cancelled: number
  /** Finished: expired, their retention run out before anyone consumed them. */
  expired: number
}

/** Options of {@link Client.waitForGroup} and {@link Queue.waitForGroup}. */
export interface WaitForGroupOptions {
  /**
   * Stops waiting: the call rejects with the signal's `reason`. The group is left as it is (nothing is cancelled;
   * {@link Client.cancelGroup} does that), and the client's other waits go on.
   */
  signal?: AbortSignal
}

/** A queue and its settings ({@link Client.listQueues}). */
export interface QueueInfo {
  /** Its name (a dead-letter queue's is `dlq@<name>`). */
  name: string
  /** Its lease length, ms. */
  ackDeadlineMs: number
  /** Deliveries before a message is dead-lettered. */
  maxDeliveryAttempts: number
  /** How long an unconsumed message is kept, ms. */
  retentionPeriodMs: number
  /** The name of its dead-letter queue, or `null` without one. */
  deadLetterQueue: string | null
  /** Its backoff of nacks without a delay (every value filled in), or `null`: such a nack redelivers at once. */
  backoff: Required<BackoffOptions> | null
  /** The most messages it holds ({@link QueueOptions.maxMessages}), or `null` when it is unbounded. */
  maxMessages: number | null
}

/** A queue, its settings and its counts ({@link Client.listQueuesWithStats}). */
export interface QueueOverview {
  /** Its name and settings. */
  info: QueueInfo
  /** Its counts by state and its dead-letter queue's depth, as {@link Queue.stats} gives them. */
  stats: QueueStats
  /** How long its oldest ready message has waited since it became available (its send, its scheduled time, or the nack or lapsed lease that made it ready again), ms; `null` when none is ready. */
  oldestReadyAgeMs: number | null
}

/** Options of {@link Queue.peek}. */
export interface PeekOptions {
  /** Most messages returned (a whole number from 1 to 10 000; default 100). Out of range: {@link InvalidOptionError}. */
  limit?: number
  /** Only messages whose attributes match (as in {@link Queue.receive}). */
  filter?: Filter
  /** Only messages in this state; another string is an {@link InvalidOptionError}. */
  state?: MessageState
}

/**
 * A message as {@link Queue.peek} read it: a copy of its row at one instant, holding no lease. Nothing can be done to
 * the message through it, and it may have changed since.
 */
export declare class PeekedMessage<T = unknown> {
  private constructor()
  /** The message id. */
  readonly id: string
  /** The queue it was read from (a dead-letter queue's name is `dlq@<name>`). */
  readonly queue: string
  /** The payload. */
  readonly body: Buffer
  /** Its attributes (`{}` when none). */
  readonly attributes: Attributes
  /** Where it stood when read. */
  readonly state: MessageState
  /** Deliveries so far (leases taken, a current one included). */
  readonly deliveryAttempts: number
  /** When it was sent. */
  readonly sentAt: Date
  /** When it became or becomes ready; for a leased message, when its lease expires; for a waiting one (it has none yet), 9999-12-31T23:59:59Z. */
  readonly availableAt: Date
  /** The error given to the last failed attempt, if any (in a dead-letter queue: the error that dead-lettered it). */
  readonly lastError: string | null
  /** For a message in a dead-letter queue: the attempts it used in its original queue. */
  readonly deadLetterAttempts: number | null
  /** The body parsed as {@link Message.json} parses it, by the serializer of the queue handle it was peeked through. */
  json<U = T>(): U
}

/**
 * A message leased to this worker. While it is held (not acked, nacked or released) the client extends its lease
 * in the background. Its state (`finished`, `leaseLost`, `cancelled`) is the Rust core's: an ack is taken there
 * as it is called, so a second `ack()` or a `nack()` after it rejects with {@link HandleError} (`already_finished`)
 * and a `release()` after it does nothing, even before the ack has resolved.
 */
export declare class Message<T = unknown> {
  private constructor()
  /** The message id: a time-ordered UUID (v7) assigned at send. */
  readonly id: string
  /** The payload, as it was sent (a serialized body too: see {@link Message.json}). */
  readonly body: Buffer
  /** Its attributes (`{}` when none). */
  readonly attributes: Attributes
  /** 1 on the first delivery, +1 for every redelivery. */
  readonly deliveryAttempt: number
  /** The error given to the last failed attempt, if any. */
  readonly lastError: string | null
  /** For a message in a dead-letter queue: the attempts it used in its original queue. */
  readonly deadLetterAttempts: number | null
  /** When it was sent. */
  get sentAt(): Date
  /** The name of the queue it was received from. */
  get queue(): string
  /** The fencing token of this lease (an ack or nack under an older token changes nothing). */
  get leaseToken(): string
  /**
   * The body parsed by the queue's {@link Serializer} (`JSON.parse` of its UTF-8 text by default). A body without a
   * `content-type` attribute is parsed too (JSON sent as bytes or text); one labelled as another encoding than the
   * serializer's is a `TypeError`, unparsed. Which labels are JSON is the core's rule, the same in every language:
   * `application/json` with or without parameters (`; charset=utf-8`) and `application/<x>+json`. Parsed anew on
   * each call; throws what the serializer throws (a `SyntaxError` for a body that is not JSON).
   */
  json<U = T>(): U
  /** Whether this handle can no longer ack or nack it (finished, being finished, or released). */
  get finished(): boolean
  /** Whether the heartbeat found the lease lost (it expired and another worker took the message, or it was dead-lettered): an ack would reject with {@link LeaseLostError}. */
  get leaseLost(): boolean
  /** Aborts (reason: a `PgmqError` with code `'cancelled'`) if `queue.cancel()` is called on this message while it is held; its ack then does nothing. Like a timer that is `unref()`ed, this watch alone does not keep the process alive. */
  get cancelled(): AbortSignal
  /** Completes the message: it is deleted and its outcome becomes `'completed'`. Acking a message cancelled while held resolves and changes nothing. Rejects with {@link HandleError} if already finished, {@link LeaseLostError} if the lease was lost. */
  ack(): Promise<void>
  /**
   * Completes the message with a result, kept with its outcome for the queue's retention period and handed to whoever
   * awaits it ({@link SentMessage.reply}, {@link Queue.request}, in any language). The result follows the rule of
   * {@link Queue.send}: bytes as they are and a string as its UTF-8 text unless the queue has a serializer (unlabelled,
   * or labelled `options.contentType`), any other value through the queue's serializer (`JSON.stringify` by default, `null`
   * included), labelled with its content type. A message sent with `track: false` keeps no result (a plain ack), and
   * one cancelled while held keeps its `'cancelled'` outcome. Rejects as {@link Message.ack} does, and with
   * {@link InvalidOptionError} for a result over `DEFAULTS.limits.maxSendBytes` or a content type that is `''` or
   * holds a NUL character: nothing was done, the message is still held and can be acked again.
   */
  ack(result: Body | T | null, options?: AckOptions): Promise<void>
  /** Completes the message with `value` as a JSON result (`JSON.stringify`, whatever the queue's serializer; labelled `application/json`), which `reply.json()` reads in every language. As {@link Message.ack} with a result otherwise. */
  ackJson(value: unknown): Promise<void>
  /** Fails this delivery: redelivered after `delayMs` (or the queue's backoff, or at once), or dead-lettered on the last attempt. */
  nack(options?: NackOptions): Promise<void>
  /** Extends the lease to `ms` from now (the heartbeat keeps extending it afterwards). */
  extend(ms: number): Promise<void>
  /** Hands the message back unfinished, for prompt redelivery (this counts as an attempt). Does nothing once finished. */
  release(): void
}

/**
 * The messages of {@link Queue.receive}, one per iteration. Breaking out of the loop (or aborting the
 * signal) releases every leased, unfinished message and ends the stream; a message that is neither
 * acked nor nacked when the iteration moves on is released too. The stream ends quietly when its
 * signal aborts or the client closes.
 */
export declare class MessageStream<T = unknown> implements AsyncIterableIterator<Message<T>> {
  private constructor()
  [Symbol.asyncIterator](): MessageStream<T>
  /** Waits for the next message. */
  next(): Promise<IteratorResult<Message<T>, undefined>>
  /** Ends the stream (what `break` calls). */
  return(): Promise<IteratorResult<Message<T>, undefined>>
  /** Ends the stream, as `break` does. */
  close(): void
  /** Whether the stream has ended. */
  get closed(): boolean
}

/** The handle of a sent message. */
export declare class SentMessage {
  private constructor()
  /** The message id. */
  readonly id: string
  /** Whether the outcome is recorded (`track`, default true). */
  get tracked(): boolean
  /** Resolves to the message's outcome once it has one (woken by NOTIFY, confirmed from the durable outcome record). Rejects with {@link HandleError} (`not_tracked`) for an untracked message. */
  completed(): Promise<Outcome>
  /** Resolves to the message's {@link Reply} once it has an outcome: the outcome and the result its worker acked it with (if any). Rejects as {@link SentMessage.completed} does. */
  reply(): Promise<Reply>
}

/** The handle of a batch of sent messages. */
export declare class SentBatch {
  private constructor()
  /** The ids, in the order the messages were given (made on first use). */
  get ids(): string[]
  /** Whether the outcomes are recorded. */
  get tracked(): boolean
  /** Resolves to `{ [id]: outcome }` once every message has an outcome. */
  completed(): Promise<Record<string, Outcome>>
  /** Resolves to each message's {@link Reply} by id, in send order, once every message has an outcome. Rejects as {@link SentBatch.completed} does. */
  replies(): Promise<Map<string, Reply>>
}

/**
 * How a message finished, and the result its worker gave it ({@link Message.ack} with a result, or the same ack in any
 * other language). `console.log` and `toString()` show the result's length, never its bytes.
 */
export declare class Reply {
  private constructor()
  /** How the message finished. */
  readonly outcome: Outcome
  /** The result's bytes, or `null` when the worker acked without one, or the message finished otherwise. */
  readonly result: Buffer | null
  /** The result's content type (`'application/json'` for a JSON result), or `null` when unlabelled. */
  readonly contentType: string | null
  /**
   * Why the message finished so, when pgmq knows: for one cancelled because a message it depended on did not complete
   * ({@link SendOptions.dependsOn}), `'dependency <id> was <outcome>'` (`dead_lettered`, `cancelled` or `expired`);
   * `null` otherwise.
   */
  readonly reason: string | null
  /**
   * The result parsed as {@link Message.json} parses a body, by the serializer of the queue handle it came through
   * (`JSON.parse` by default): unlabelled or labelled JSON; another label is a `TypeError`. Throws
   * {@link InvalidOptionError} when there is no result.
   */
  json<U = unknown>(): U
  /** `Reply(completed, 13 bytes, application/json)`; `Reply(cancelled: dependency <id> was dead_lettered, no result)`. */
  toString(): string
}

/**
 * One queue, by name. Made by {@link Client.queue}; nothing is read until it is used. `T` is the type of the
 * values its serializer sends and {@link Message.json} returns.
 */
export declare class Queue<T = unknown> {
  private constructor()
  /** The queue's name. */
  get name(): string
  /** The serializer given to {@link Client.queue}, or `null`. */
  get serializer(): Serializer<T> | null
  /**
   * Sends one message; resolves once it is durable. Bytes ({@link Body}) are sent as they are, with no
   * `content-type` (the fastest path). A string is its UTF-8 text, unless the queue has a serializer. Anything else
   * (an object, array, number, boolean, `null`) is serialized by the queue's serializer, `JSON.stringify` by default
   * (a value it cannot encode, such as `undefined` or a function, is a `TypeError`), and gets the attribute
   * `content-type` ({@link CONTENT_TYPE_ATTRIBUTE}) with the serializer's content type: `application/json` by
   * default, what a Python or Kotlin JSON sender sets too. A `content-type` given in `attributes` for such a body
   * must be that same type, else {@link InvalidOptionError} (to label bytes yourself, send bytes).
   *
   * To a bounded queue without room, it waits up to `waitForRoomMs` (default 30 000), then rejects with
   * {@link QueueFullError}, having written nothing; `waitForRoomMs: 0` rejects at once.
   */
  send(body: Body | T, options?: SendOneOptions): Promise<SentMessage>
  /**
   * Sends one message (tracked, the body as {@link Queue.send} takes it) and waits for its reply: request/reply over
   * the queue, answered by a worker's {@link Message.ack} with a result, in any language. Resolves to the
   * {@link Reply} of a completed request (its `result` is `null` if the worker acked without one). Rejects with
   * {@link RequestFailedError} (`outcome`, `messageId`) when the request was dead-lettered, cancelled or expired; with
   * {@link PgmqTimeoutError} when no reply came within `timeoutMs` (default 30 000), after cancelling the request;
   * with {@link InvalidOptionError} for a `timeoutMs` of 0 or over 100 years, before anything is sent; with the
   * signal's reason when `signal` aborts (the request stays queued: see {@link RequestOptions.signal}). To a full
   * bounded queue, the request's send first waits for room as {@link Queue.send} does by default (up to
   * `DEFAULTS.send.waitForRoomMs`, then {@link QueueFullError}), before `timeoutMs` starts.
   *
   * ```ts
   * // not run
   * const reply = await queue.request({ a: 2, b: 3 }, { timeoutMs: 5_000 })
   * console.log(reply.json<number>()) // 5
   * ```
   */
  request(body: Body | T, options?: RequestOptions): Promise<Reply>
  /** As {@link Queue.request}, the body being `value` as JSON (`JSON.stringify`, whatever the queue's serializer; strings too), labelled `application/json`. */
  requestJson(value: unknown, options?: RequestOptions): Promise<Reply>
  /** Sends messages in one statement: all of them or, on error, none. Each body as in {@link Queue.send}; an entry's `after` makes it depend on earlier entries ({@link OutgoingMessage}). A bounded queue takes the whole batch or none of it: without room for all of it, it waits as {@link Queue.send} does. */
  sendBatch(messages: readonly OutgoingMessage<T>[], options?: SendOptions): Promise<SentBatch>
  /** A stream of messages for `for await`. Waiting happens in the core (NOTIFY, the next scheduled time), never by polling. */
  receive(options?: ReceiveOptions): MessageStream<T>
  /** Runs `handler` for each message, up to `concurrency` at once: resolving acks it, throwing nacks it (a handler may also ack or nack itself). Resolves when `signal` aborts (after the running handlers finish) or the client closes. */
  process(handler: (message: Message<T>) => unknown | Promise<unknown>, options?: ProcessOptions<T>): Promise<void>
  /** Cancels messages: a queued or scheduled one is removed and never delivered (guaranteed); a held one is signalled through `message.cancelled` and never redelivered. Resolves to the ids that were found. */
  cancel(ids: readonly string[]): Promise<string[]>
  /**
   * Reads up to `limit` of this queue's messages without leasing or changing them: to look into a queue, or into its
   * dead-letter queue (`client.queue(getDlqName(name))`), where `lastError` and `deadLetterAttempts` say why each
   * message is there. They come in the order receivers would take them: ready ones oldest first, then the others by
   * when they fall due. A plain read of one snapshot: it takes no lock, so it neither waits for workers nor holds
   * them up. Rejects with {@link InvalidOptionError} for a `limit` out of range or an unknown `state`, with
   * {@link QueueNotFoundError} for an unknown queue.
   */
  peek(options?: PeekOptions): Promise<PeekedMessage<T>[]>
  /**
   * Deletes this queue's messages that no worker holds (ready and scheduled ones) and resolves to how many it
   * deleted. Their outcome becomes `'cancelled'`, as if {@link Queue.cancel} had been called on each: waiters on
   * them, in any process, learn it at once. Messages under a live lease are left to their workers; cancel their
   * ids to stop those too. One transaction, whatever the number of messages; works on a dead-letter queue too.
   * Rejects with {@link QueueNotFoundError} for an unknown queue, with {@link DatabaseError} (permission denied)
   * for a role that may only send.
   */
  purge(): Promise<number>
  /** Counts of this queue's messages by state. */
  stats(): Promise<QueueStats>
  /**
   * Bounds the queue to `max` messages ({@link QueueOptions.maxMessages}: sets, lowers or raises the bound), or lifts
   * it (`null`). Messages already in the queue stay, also beyond a lowered bound; sends fit again once it has drained
   * below. Rejects with {@link InvalidOptionError} for a bound out of range or a dead-letter queue (never bounded),
   * with {@link QueueNotFoundError} for an unknown queue.
   */
  setMaxMessages(max: number | null): Promise<void>
  /** Waits until every message has an outcome (messages sent earlier, by any process, with tracking). */
  waitForCompletion(ids: readonly string[]): Promise<Record<string, Outcome>>
  /**
   * Cancels the messages of job group `group` ({@link SendOptions.group}) in this queue, as {@link Queue.cancel} does
   * for each: a queued or scheduled one is removed and never delivered, a held one is signalled through
   * `message.cancelled`. Resolves to the ids found (held messages still being cancelled are found again by a second
   * call). The group's messages in other queues are left alone ({@link Client.cancelGroup} cancels everywhere).
   * Rejects with {@link QueueNotFoundError} for an unknown queue, {@link InvalidOptionError} for an invalid group id.
   */
  cancelGroup(group: string): Promise<string[]>
  /**
   * Waits until every message of job group `group` in this queue has an outcome, and resolves to them by id (as
   * {@link Queue.waitForCompletion} does); messages sent to the group meanwhile count too. Woken by the queue's
   * completion notifications, not by polling. A group without messages here resolves at once to `{}`. Rejects as
   * {@link Queue.cancelGroup} does, and with the signal's reason when `options.signal` aborts.
   */
  waitForGroup(group: string, options?: WaitForGroupOptions): Promise<Record<string, Outcome>>
  /** Job group `group`'s messages in this queue, by state and by outcome. Rejects as {@link Queue.cancelGroup} does. */
  groupStats(group: string): Promise<GroupStats>
}

/** A connection to one PostgreSQL database: a pool for statements and one LISTEN connection shared by every waiter. */
export declare class Client implements AsyncDisposable {
  private constructor()
  /** Creates or upgrades the `pgmq` schema; resolves to its version. Safe to run from several processes at once. Rejects with {@link PgmqTimeoutError} (nothing changed; run it again later) after waiting 5 s for a lock a long transaction holds on pgmq's tables, and with {@link SchemaConflictError} if a `pgmq` schema exists that is not pgmq's. Each migration applied is logged at `info` (see {@link setLogger}). */
  migrate(): Promise<number>
  /** The schema version in the database: 0 when pgmq was never migrated there, else the version `migrate()` resolved to. */
  schemaVersion(): Promise<number>
  /** Creates a queue (and, unless `deadLetterQueue: null`, its DLQ `dlq@<name>`); `false` if it already exists. */
  createQueue(name: string, options?: QueueOptions): Promise<boolean>
  /** Deletes a queue, its DLQ and their messages; `false` if there was none. */
  deleteQueue(name: string): Promise<boolean>
  /** Every queue, dead-letter queues included, by name. */
  listQueues(): Promise<QueueInfo[]>
  /**
   * Every queue, dead-letter queues included, by name, with its counts, all read at one instant in one statement.
   * It reads every message row once, as a count of the messages would: fine for a dashboard refreshed every few
   * seconds, not for a hot loop.
   */
  listQueuesWithStats(): Promise<QueueOverview[]>
  /**
   * Moves every message of queue `from` (typically a DLQ, `getDlqName(name)`) that is not leased to queue `to`, as
   * fresh messages: available now, attempts reset, same ids, bodies and attributes. Resolves to how many moved.
   * Rejects with {@link QueueNotFoundError} if either queue does not exist.
   */
  redrive(from: string, to: string): Promise<number>
  /**
   * Cancels the messages of job group `group` ({@link SendOptions.group}) in every queue, as {@link Queue.cancel} does
   * for each: a queued or scheduled one is removed and never delivered, a held one is signalled through
   * `message.cancelled` and its ack changes nothing. Resolves to the ids found (held messages still being cancelled
   * are found again by a second call); an unknown group is an empty one. Rejects with {@link InvalidOptionError} for
   * an invalid group id.
   *
   * ```ts
   * // not run
   * await client.queue('resize').sendBatch(images, { group: importId })
   * await client.queue('index').send(catalogue, { group: importId })
   * await client.cancelGroup(importId) // the user gave up on the import: stop all of it
   * ```
   */
  cancelGroup(group: string): Promise<string[]>
  /**
   * Waits until every message of job group `group`, in every queue, has an outcome, and resolves to them by id;
   * messages sent to the group meanwhile count too. Woken by the completion notifications of the group's queues, not
   * by polling (a safety-net re-read every `DEFAULTS.completion.pollIntervalMs`). An empty or unknown group resolves at
   * once to `{}`; a finished message leaves its group when its outcome expires. Rejects with
   * {@link InvalidOptionError} for an invalid group id, {@link ClientClosedError} when the client closes, and with the
   * signal's reason when `options.signal` aborts (the group is left as it is).
   */
  waitForGroup(group: string, options?: WaitForGroupOptions): Promise<Record<string, Outcome>>
  /** Job group `group`'s messages in every queue, by state and by outcome ({@link GroupStats}). Rejects with {@link InvalidOptionError} for an invalid group id. */
  groupStats(group: string): Promise<GroupStats>
  /**
   * A handle on a queue (the name is checked now; the queue need not exist yet). With a `serializer`, a typed
   * queue: every body that is not bytes goes through it, strings included, and {@link Message.json} returns `T`.
   *
   * ```ts
   * const jobs = client.queue<Job>('jobs', { serializer: jsonSerializer })
   * await jobs.send({ id: 1 })             // typed: send(value: Job)
   * for await (const m of jobs.receive()) { const job: Job = m.json(); ... }
   * ```
   */
  queue<T = unknown>(name: string, options?: QueueHandleOptions<T>): Queue<T>
  /** Closes the client: streams end, pending waits reject with {@link ClientClosedError}, connections close. */
  close(): Promise<void>
  /** Whether `close()` was called. */
  get closed(): boolean
  /** `await using client = await connect(dsn)` closes it at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void>
}

/**
 * Connects to PostgreSQL (`postgres://user@host:port/db` or `host=... user=...`, read as libpq reads it: the `PG*`
 * environment variables and `~/.pgpass` fill what it leaves out, `''` takes everything from them; TLS with
 * `sslmode=verify-full&sslrootcert=/path/to/ca.crt`). Its backends show `application_name` `pgmq-node` (or
 * `options.applicationName`) unless the DSN or `PGAPPNAME` names one. Rejects with {@link ConnectionError} if the server
 * cannot be reached (within `connectRetryMs`), its certificate is not trusted, or the login is refused; with
 * {@link InvalidOptionError} for a malformed DSN or an option out of range. No error shows the password.
 */
export declare function connect(dsn: string, options?: ConnectOptions): Promise<Client>

// ---------------------------------------------------------------------------------------------------
// The transactional send (outbox)

/**
 * A query for the application's own driver: `text` with `$1`…`$6` placeholders and their `values`, the shape of
 * node-postgres' `QueryConfig` (`client.query(q)`), and what Prisma's `$queryRawUnsafe(q.text, ...q.values)` takes.
 * `R` is what {@link Sql.execute} resolves to: the id (`string`) or the ids of a batch (`string[]`).
 */
export interface OutboxQuery<R extends string | string[] = string | string[]> {
  /** The core's statement, calling one of pgmq's SQL functions (`pgmq.send`, ...). */
  readonly text: string
  /** Queue name, body (bodies), attributes as JSON text (or null), delay in seconds (or null), schedule as ISO text (or null), track. */
  readonly values: unknown[]
  /** Types only: what {@link Sql.execute} resolves to. */
  readonly __result?: R
}

/** Options of every statement of {@link sql}: those of a send but the wait for room (the SQL send never waits: a full bounded queue is a {@link QueueFullError} at once), the group and the dependencies (not taken yet: a `group`, a `dependsOn` or an entry's `after` is an {@link InvalidOptionError}). */
export interface OutboxOptions extends Pick<SendOptions, 'delayMs' | 'scheduleAt' | 'track'> {
  /** The schema pgmq was installed in (default `'pgmq'`, as {@link ConnectOptions.schema}). */
  schema?: string
}

/** Options of {@link Sql.send} and {@link Sql.sendJson}. */
export interface OutboxSendOptions extends OutboxOptions {
  /** Attributes receivers can filter on. */
  attributes?: Attributes
}

/** Options of {@link Sql.sendJsonBatch}. */
export interface OutboxJsonBatchOptions extends OutboxOptions {
  /** The attributes of each value, in order: as many entries as values (`null`: none). */
  attributes?: readonly (Attributes | null | undefined)[]
}

/** What {@link Sql.execute} runs a query on: node-postgres' `Client`, `PoolClient` or `Pool`, or anything alike. */
export interface Queryable {
  query(query: { text: string; values: unknown[] }): Promise<{ rows: unknown[] }>
}

/** The type of {@link sql}. */
export interface Sql {
  /**
   * One message as a query: sent when the caller's transaction commits, with it; a rollback leaves nothing, and
   * receivers are woken at commit (one wake-up however many sends the transaction made). The body as
   * {@link Queue.send} takes it: bytes as they are, a string as its UTF-8 text, any other value as JSON with
   * `content-type: application/json`. Type and range errors (`TypeError`, `RangeError`) are thrown here; what the
   * database refuses (an unknown queue, bad attributes, `delayMs` and `scheduleAt` together) when it runs.
   */
  send(queue: string, body: unknown, options?: OutboxSendOptions): OutboxQuery<string>
  /** One JSON value (`JSON.stringify`), labelled `content-type: application/json` by the SQL function; `message.json()` reads it in every language. */
  sendJson(queue: string, value: unknown, options?: OutboxSendOptions): OutboxQuery<string>
  /** Messages as one query, sent all or none; each entry as {@link Queue.sendBatch} takes it. Ids in order. */
  sendBatch(queue: string, messages: readonly OutgoingMessage[], options?: OutboxOptions): OutboxQuery<string[]>
  /** JSON values as one query, sent all or none, each labelled as by {@link Sql.sendJson}. Ids in order. */
  sendJsonBatch(queue: string, values: readonly unknown[], options?: OutboxJsonBatchOptions): OutboxQuery<string[]>
  /**
   * Runs a query of this object on `client` (inside the caller's transaction: a `Client` or `PoolClient` after
   * `BEGIN`) and resolves to the message id, or the ids of a batch. The database's refusals become pgmq's errors:
   * {@link QueueNotFoundError} for an unknown queue, {@link InvalidOptionError} for a bad option,
   * {@link QueueFullError} for a bounded queue without room (at once: the SQL send never waits) (nothing was
   * written; the transaction is aborted, as after any failed statement); other driver errors are rethrown as
   * they are.
   * ```ts
   * // not run
   * await db.query('BEGIN')
   * await db.query('INSERT INTO orders (id) VALUES ($1)', [orderId])
   * const id = await sql.execute(db, sql.sendJson('orders', { orderId }))
   * await db.query('COMMIT') // the message is sent with the order, or not at all
   * ```
   */
  execute<R extends string | string[]>(client: Queryable, query: OutboxQuery<R>): Promise<R>
  /**
   * The pgmq error a driver's error stands for, when the database raised one of pgmq's SQLSTATEs (its `code`, a
   * Prisma error's `meta.code`, or one of its `cause`s): for queries run by another driver (Prisma, Drizzle).
   * Any other error is returned as it is.
   */
  error(err: unknown): unknown
  /** The SQLSTATEs pgmq's SQL functions raise and the code of each (the core's map): `{ PQ001: 'queue_not_found', PQ002: 'invalid_option', PQ003: 'queue_full' }`. */
  readonly SQLSTATES: Readonly<Record<string, ErrorCode>>
}

/**
 * The transactional send (the outbox): a message that commits or rolls back with the application's own writes,
 * through the driver it already uses. Queries for node-postgres (`pg`) and their runner:
 * ```ts
 * // not run
 * import pg from 'pg'
 * import { sql } from 'pgmq'
 * const db = await pool.connect()
 * await db.query('BEGIN')
 * const id = await sql.execute(db, sql.send('emails', 'welcome'))
 * await db.query('COMMIT')
 * ```
 * Any client of pgmq (in any language) receives the message and can wait for its outcome by `id`
 * ({@link Queue.waitForCompletion}). The role needs the producer grant (`pgmq.grant_producer`).
 */
export declare const sql: Sql
