/**
 * pgmq: a message queue inside PostgreSQL, for Node.
 *
 * ```ts
 * import { connect } from 'pgmq'
 * await using client = await connect(process.env.DATABASE_URL!)
 * await client.migrate()
 * await client.createQueue('jobs')
 * const jobs = client.queue('jobs')
 * const sent = await jobs.send('{"resize": 42}')
 * for await (const msg of jobs.receive()) { await msg.ack(); break }
 * await sent.completed() // 'completed'
 * ```
 *
 * Every message is delivered to one worker at a time under a lease that the client extends while the
 * worker holds the message; a worker that fails (`nack`, a thrown handler) or dies gets its message
 * redelivered, and after `maxDeliveryAttempts` it moves to the queue's dead-letter queue.
 *
 * Errors: arguments of the wrong type throw `TypeError`, out-of-range numbers `RangeError`; everything the
 * queue itself refuses is a {@link PgmqError} subclass with a stable `code`.
 * @packageDocumentation
 */

/// <reference types="node" />

/** How a message finished. */
export type Outcome = 'completed' | 'dead_lettered' | 'cancelled' | 'expired'
/** The outcomes by name: `Outcome.Completed === 'completed'`. */
export declare const Outcome: {
  readonly Completed: 'completed'
  readonly DeadLettered: 'dead_lettered'
  readonly Cancelled: 'cancelled'
  readonly Expired: 'expired'
}

/** A message body: bytes, or a string (sent as UTF-8). Received bodies are always `Buffer`s. */
export type Body = Buffer | Uint8Array | string

/** An attribute value. Numbers compare numerically in filters, strings textually. */
export type AttributeValue = string | number | boolean | null
/** Message attributes: a flat object of scalars, which receivers can filter on. */
export type Attributes = Record<string, AttributeValue>

/** The stable error codes of the core, the same in every language. */
export type ErrorCode =
  | 'invalid_queue_name'
  | 'invalid_option'
  | 'queue_not_found'
  | 'message_not_found'
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
  constructor(message: string, code?: string, options?: ErrorOptions)
}
/** The queue name is empty, longer than 48 characters, not `[a-zA-Z0-9_-]`, or (to create) starts with `dlq@`. */
export declare class InvalidQueueNameError extends PgmqError {}
/** An option has a value the queue cannot accept (e.g. `ackDeadlineMs` below 1000, `maxDeliveryAttempts` below 1). */
export declare class InvalidOptionError extends PgmqError {}
/** There is no queue of that name. */
export declare class QueueNotFoundError extends PgmqError {}
/** A message id is neither queued nor has an outcome recorded. */
export declare class MessageNotFoundError extends PgmqError {}
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
/** The server did not answer in time: a lock wait hit `lock_timeout` (`client.migrate()` sets 5 s for its own transaction) or a statement hit `statement_timeout`. Nothing changed; running it again later is safe. (Not named `TimeoutError`, the name of the DOMException an `AbortSignal.timeout()` aborts with.) */
export declare class PgmqTimeoutError extends PgmqError {}
/** PostgreSQL reported an error. */
export declare class DatabaseError extends PgmqError {}
/** The client was closed. */
export declare class ClientClosedError extends PgmqError {}
/** A bug in pgmq: a panic in its Rust core (or a failure of the native addon), caught and reported instead of crashing the process. The operation did not complete; whether it took effect is unknown. The process and other clients keep working. */
export declare class InternalError extends PgmqError {}

/** A condition on message attributes, made with {@link Attribute}. `and` / `or` nest at most 100 levels deep (a `RangeError` beyond; combine long lists pairwise). */
export declare class Filter {
  private constructor()
  /** Both conditions hold. */
  and(other: Filter): Filter
  /** Either condition holds. */
  or(other: Filter): Filter
  /** The filter as the plain tree the native layer reads. */
  toJSON(): unknown
}

/** The conditions on one attribute. */
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

/** Options of {@link connect}. */
export interface ConnectOptions {
  /** A separate DSN for the one LISTEN connection (e.g. direct to PostgreSQL while work goes through a transaction-pooling PgBouncer). */
  listenDsn?: string
  /** Most pooled connections for statements (default 10). */
  poolSize?: number
  /** How long to wait for a connection, ms (default 10 000). */
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

/** Exponential backoff of nacks that give no delay: `min(baseMs * factor^(attempt-1), maxMs)`. */
export interface BackoffOptions {
  /** Delay after the first failure, ms. */
  baseMs: number
  /** Growth per attempt (>= 1; default 2). */
  factor?: number
  /** Upper bound, ms (default 10 minutes). */
  maxMs?: number
  /** Scale each delay by a random factor in [0.5, 1] (default true). */
  jitter?: boolean
}

/** Options of {@link Client.createQueue}. Fixed once the queue exists. */
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
}

/** Options of {@link Queue.send} and {@link Queue.sendBatch}. */
export interface SendOptions {
  /** Deliver no earlier than this many ms after the send (server clock). */
  delayMs?: number
  /** Deliver no earlier than this instant. Not together with `delayMs`. */
  scheduleAt?: Date
  /** Record the outcome so that `completed()` can wait for it (default true). */
  track?: boolean
}

/** Options of {@link Queue.send}. */
export interface SendOneOptions extends SendOptions {
  /** Attributes receivers can filter on. */
  attributes?: Attributes
}

/** One message of {@link Queue.sendBatch}: a body, or a body with attributes. */
export type OutgoingMessage = Body | { body: Body; attributes?: Attributes }

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
  /** Called with each error the stream recovered from: a lost connection (say, a {@link ConnectionError}) never ends the stream, which retries with a capped, jittered backoff until the server answers. Default: a process warning (type `'PgmqWarning'`). A throw is reported as such a warning. */
  onError?: (error: PgmqError) => void
}

/** Options of {@link Queue.process}. */
export interface ProcessOptions {
  /** Most messages handled at once (default 10). */
  concurrency?: number
  /** Only messages whose attributes match. */
  filter?: Filter
  /** Stops receiving; `process()` resolves once the running handlers have finished. */
  signal?: AbortSignal
  /** Safety-net re-read while idle, ms (default 30 000). */
  pollIntervalMs?: number
  /** Called when a message's automatic ack or nack fails (with that `message`), and with each error receiving recovered from (`message` undefined: a lost connection never ends `process()`, which retries with backoff). Default: a process warning (type `'PgmqWarning'`); a throw is reported as one. */
  onError?: (error: unknown, message: Message | undefined) => void
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
  /** Waiting for their time (a delay, a schedule or a nack backoff). */
  scheduled: number
  /** Held by a worker under a live lease. */
  leased: number
  /** Messages in the queue's dead-letter queue. */
  deadLettered: number
}

/** A message leased to this worker. While it is held (not acked, nacked or released) the client extends its lease in the background. */
export declare class Message {
  private constructor()
  /** The message id: a time-ordered UUID (v7) assigned at send. */
  readonly id: string
  /** The payload. */
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
  /** Whether this handle can no longer ack or nack it (finished or released). */
  get finished(): boolean
  /** Aborts (reason: a `PgmqError` with code `'cancelled'`) if `queue.cancel()` is called on this message while it is held; its ack then does nothing. Like a timer that is `unref()`ed, this watch alone does not keep the process alive. */
  get cancelled(): AbortSignal
  /** Completes the message: it is deleted and its outcome becomes `'completed'`. Acking a message cancelled while held resolves and changes nothing. Rejects with {@link HandleError} if already finished, {@link LeaseLostError} if the lease was lost. */
  ack(): Promise<void>
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
export declare class MessageStream implements AsyncIterableIterator<Message> {
  private constructor()
  [Symbol.asyncIterator](): MessageStream
  /** Waits for the next message. */
  next(): Promise<IteratorResult<Message, undefined>>
  /** Ends the stream (what `break` calls). */
  return(): Promise<IteratorResult<Message, undefined>>
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
}

/** One queue, by name. Made by {@link Client.queue}; nothing is read until it is used. */
export declare class Queue {
  private constructor()
  /** The queue's name. */
  get name(): string
  /** Sends one message; resolves once it is durable. */
  send(body: Body, options?: SendOneOptions): Promise<SentMessage>
  /** Sends messages in one statement: all of them or, on error, none. */
  sendBatch(messages: readonly OutgoingMessage[], options?: SendOptions): Promise<SentBatch>
  /** A stream of messages for `for await`. Waiting happens in the core (NOTIFY, the next scheduled time), never by polling. */
  receive(options?: ReceiveOptions): MessageStream
  /** Runs `handler` for each message, up to `concurrency` at once: resolving acks it, throwing nacks it (a handler may also ack or nack itself). Resolves when `signal` aborts (after the running handlers finish) or the client closes. */
  process(handler: (message: Message) => unknown | Promise<unknown>, options?: ProcessOptions): Promise<void>
  /** Cancels messages: a queued or scheduled one is removed and never delivered (guaranteed); a held one is signalled through `message.cancelled` and never redelivered. Resolves to the ids that were found. */
  cancel(ids: readonly string[]): Promise<string[]>
  /** Counts of this queue's messages by state. */
  stats(): Promise<QueueStats>
  /** Waits until every message has an outcome (messages sent earlier, by any process, with tracking). */
  waitForCompletion(ids: readonly string[]): Promise<Record<string, Outcome>>
}

/** A connection to one PostgreSQL database: a pool for statements and one LISTEN connection shared by every waiter. */
export declare class Client implements AsyncDisposable {
  private constructor()
  /** Creates or upgrades the `pgmq` schema; resolves to its version. Safe to run from several processes at once. Rejects with {@link PgmqTimeoutError} (nothing changed; run it again later) after waiting 5 s for a lock a long transaction holds on pgmq's tables, and with {@link SchemaConflictError} if a `pgmq` schema exists that is not pgmq's. */
  migrate(): Promise<number>
  /** Creates a queue (and, unless `deadLetterQueue: null`, its DLQ `dlq@<name>`); `false` if it already exists. */
  createQueue(name: string, options?: QueueOptions): Promise<boolean>
  /** Deletes a queue, its DLQ and their messages; `false` if there was none. */
  deleteQueue(name: string): Promise<boolean>
  /** A handle on a queue (the name is checked now; the queue need not exist yet). */
  queue(name: string): Queue
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
