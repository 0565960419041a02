'use strict'
// The public JavaScript API of the npm package `pgmq`, over the native addon (./native.cjs, built from
// bindings-node/src by @napi-rs/cli). This layer only checks argument types, maps errors to classes and
// adapts async styles (async iterators, AbortSignal, `await using`); every queue operation, wait and
// retry happens in the Rust core. Types and documentation: ./index.d.ts.

const native = require('./native.cjs')

// ---------------------------------------------------------------------------------------------------
// Errors

/** Base class of every pgmq error; `code` is the core's stable snake_case code. */
class PgmqError extends Error {
  constructor(message, code, options) {
    super(message, options)
    this.name = new.target.name
    this.code = code === undefined ? new.target.code : code
  }
}
PgmqError.code = 'pgmq'

function errorClass(name, code, base = PgmqError) {
  const cls = { [name]: class extends base {} }[name]
  cls.code = code
  return cls
}

const InvalidQueueNameError = errorClass('InvalidQueueNameError', 'invalid_queue_name')
const InvalidOptionError = errorClass('InvalidOptionError', 'invalid_option')
const QueueNotFoundError = errorClass('QueueNotFoundError', 'queue_not_found')
const MessageNotFoundError = errorClass('MessageNotFoundError', 'message_not_found')
const LeaseLostError = errorClass('LeaseLostError', 'lease_lost')
const HandleError = errorClass('HandleError', 'already_finished')
const SchemaMissingError = errorClass('SchemaMissingError', 'schema_missing')
const SchemaConflictError = errorClass('SchemaConflictError', 'schema_conflict')
const ConnectionError = errorClass('ConnectionError', 'connection')
// Not `TimeoutError`: that is the name of the DOMException an AbortSignal.timeout() aborts with, and
// `err.name` should tell a pgmq timeout from a caller's own deadline.
const PgmqTimeoutError = errorClass('PgmqTimeoutError', 'timeout')
const DatabaseError = errorClass('DatabaseError', 'database')
const ClientClosedError = errorClass('ClientClosedError', 'closed')
const InternalError = errorClass('InternalError', 'internal')

const ERROR_CLASSES = {
  invalid_queue_name: InvalidQueueNameError,
  invalid_option: InvalidOptionError,
  queue_not_found: QueueNotFoundError,
  message_not_found: MessageNotFoundError,
  lease_lost: LeaseLostError,
  already_finished: HandleError,
  not_tracked: HandleError,
  schema_missing: SchemaMissingError,
  schema_conflict: SchemaConflictError,
  connection: ConnectionError,
  timeout: PgmqTimeoutError,
  database: DatabaseError,
  closed: ClientClosedError,
  internal: InternalError,
}

const CODED = /^\[pgmq:([a-z_]+)\] /

/** The addon's errors carry the core's code as a `[pgmq:<code>] ` prefix; this makes them typed. */
function typed(err) {
  if (err instanceof Error && !(err instanceof PgmqError)) {
    const m = CODED.exec(err.message)
    if (m !== null) {
      const Cls = ERROR_CLASSES[m[1]] || PgmqError
      return new Cls(err.message.slice(m[0].length), m[1])
    }
    // Not one of pgmq's errors but a failure of the addon itself: a panic that napi caught (every
    // export catches them) or a napi call that failed. A bug, not a crash.
    if (err.code === 'GenericFailure') return new InternalError(err.message, 'internal', { cause: err })
  }
  return err
}

function rethrow(err) {
  throw typed(err)
}

/** A native promise with typed errors. */
function call(promise) {
  return promise.then(undefined, rethrow)
}

/** A native synchronous call with typed errors. */
function callSync(fn) {
  try {
    return fn()
  } catch (err) {
    throw typed(err)
  }
}

// ---------------------------------------------------------------------------------------------------
// Argument checks: wrong types are TypeErrors, out-of-range numbers RangeErrors (as in Node's own APIs).

function describe(v) {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array'
  if (typeof v === 'object') return `an instance of ${(v.constructor && v.constructor.name) || 'Object'}`
  return `${typeof v} ${typeof v === 'string' ? JSON.stringify(v).slice(0, 40) : String(v)}`
}

function isPlainObject(v) {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false
  const proto = Object.getPrototypeOf(v)
  return proto === Object.prototype || proto === null
}

function options(v, what) {
  if (v === undefined || v === null) return {}
  if (typeof v !== 'object' || Array.isArray(v)) {
    throw new TypeError(`${what} must be an object, got ${describe(v)}`)
  }
  return v
}

function string(v, what) {
  if (typeof v !== 'string') throw new TypeError(`${what} must be a string, got ${describe(v)}`)
  return v
}

function optionalString(v, what) {
  return v === undefined || v === null ? undefined : string(v, what)
}

function optionalBoolean(v, what) {
  if (v === undefined || v === null) return undefined
  if (typeof v !== 'boolean') throw new TypeError(`${what} must be a boolean, got ${describe(v)}`)
  return v
}

/** A number the core validates itself (queue options: its InvalidOptionError names the rule). */
function optionalNumber(v, what) {
  if (v === undefined || v === null) return undefined
  if (typeof v !== 'number') throw new TypeError(`${what} must be a number, got ${describe(v)}`)
  return v
}

/** A delay or duration in milliseconds: a finite number >= 0. */
function optionalMs(v, what) {
  if (v === undefined || v === null) return undefined
  if (typeof v !== 'number') throw new TypeError(`${what} must be a number of milliseconds, got ${describe(v)}`)
  if (!Number.isFinite(v) || v < 0) {
    throw new RangeError(`${what} must be a finite number of milliseconds >= 0, got ${v}`)
  }
  return v
}

/** A count: a whole number >= 1. */
function optionalCount(v, what) {
  if (v === undefined || v === null) return undefined
  if (typeof v !== 'number') throw new TypeError(`${what} must be a number, got ${describe(v)}`)
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`${what} must be a whole number >= 1, got ${v}`)
  return v
}

function body(v, what) {
  if (Buffer.isBuffer(v)) return v
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength)
  if (typeof v === 'string') return Buffer.from(v, 'utf8')
  throw new TypeError(`${what} must be a Buffer, Uint8Array or string, got ${describe(v)}`)
}

function scalar(v, what) {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new RangeError(`${what} must be a finite number, got ${v}`)
    return v
  }
  throw new TypeError(`${what} must be a string, number, boolean or null, got ${describe(v)}`)
}

function attributes(v, what) {
  if (v === undefined || v === null) return null
  if (!isPlainObject(v)) throw new TypeError(`${what} must be a plain object, got ${describe(v)}`)
  for (const key of Object.keys(v)) scalar(v[key], `${what}.${key}`)
  return v
}

function ids(v, what) {
  if (!Array.isArray(v)) throw new TypeError(`${what} must be an array of message ids, got ${describe(v)}`)
  for (const id of v) string(id, `each of ${what}`)
  return v
}

function signalOf(v) {
  if (v === undefined || v === null) return undefined
  if (
    typeof v !== 'object' ||
    typeof v.aborted !== 'boolean' ||
    typeof v.addEventListener !== 'function' ||
    typeof v.removeEventListener !== 'function'
  ) {
    throw new TypeError(`signal must be an AbortSignal, got ${describe(v)}`)
  }
  return v
}

function sendOptions(o) {
  const delayMs = optionalMs(o.delayMs, 'delayMs')
  let scheduleAtMs
  if (o.scheduleAt !== undefined && o.scheduleAt !== null) {
    if (!(o.scheduleAt instanceof Date)) {
      throw new TypeError(`scheduleAt must be a Date, got ${describe(o.scheduleAt)}`)
    }
    scheduleAtMs = o.scheduleAt.getTime()
    if (Number.isNaN(scheduleAtMs)) throw new RangeError('scheduleAt is an invalid Date')
  }
  return { delayMs, scheduleAtMs, track: optionalBoolean(o.track, 'track') }
}

// ---------------------------------------------------------------------------------------------------
// Outcomes and filters

/** How a message finished. */
const Outcome = Object.freeze({
  Completed: 'completed',
  DeadLettered: 'dead_lettered',
  Cancelled: 'cancelled',
  Expired: 'expired',
})

const FILTER_TREE = Symbol('pgmq.filterTree')
const FILTER_DEPTH = Symbol('pgmq.filterDepth')

/** A condition on message attributes; combine with `and` / `or`. */
class Filter {
  constructor(tree, depth = 1) {
    if (tree === undefined || tree === null || typeof tree.op !== 'string') {
      throw new TypeError('a Filter is made with Attribute(key), not constructed directly')
    }
    this[FILTER_TREE] = tree
    this[FILTER_DEPTH] = depth
  }

  and(other) {
    return this.#join('and', other)
  }

  or(other) {
    return this.#join('or', other)
  }

  // The core refuses filters nested deeper than MAX_FILTER_DEPTH; refusing them here also keeps the
  // addon from walking (recursively) a tree deep enough to exhaust the native stack.
  #join(op, other) {
    const right = treeOf(other, `${op}()`)
    const depth = Math.max(this[FILTER_DEPTH], other[FILTER_DEPTH]) + 1
    if (depth > native.MAX_FILTER_DEPTH) {
      throw new RangeError(`filters may nest at most ${native.MAX_FILTER_DEPTH} levels deep`)
    }
    return new Filter({ op, left: this[FILTER_TREE], right }, depth)
  }

  toJSON() {
    return this[FILTER_TREE]
  }
}

/**
 * The filter tree in postfix order: leaves, and `{ op: 'and' | 'or' }` combining the two entries before
 * it. Walked without recursion, and flat when it crosses to the addon (which rebuilds it with a stack):
 * napi refuses JSON nested deeper than 128 levels, the core allows MAX_FILTER_DEPTH.
 */
function postfix(tree) {
  const out = []
  const todo = [tree]
  while (todo.length > 0) {
    const node = todo.pop()
    if (node.op === 'and' || node.op === 'or') {
      out.push({ op: node.op })
      todo.push(node.left, node.right)
    } else {
      out.push(node)
    }
  }
  return out.reverse()
}

function treeOf(f, what) {
  if (!(f instanceof Filter)) throw new TypeError(`${what} takes a Filter (made with Attribute), got ${describe(f)}`)
  return f[FILTER_TREE]
}

/** Starts a filter on one attribute: `Attribute('color').eq('red')`. Works with or without `new`. */
class AttributeCondition {
  constructor(key) {
    this.key = string(key, 'attribute key')
  }
  #compare(op, value) {
    return new Filter({ op, key: this.key, value: scalar(value, `Attribute(${JSON.stringify(this.key)}).${op}() value`) })
  }
  eq(value) { return this.#compare('eq', value) }
  ne(value) { return this.#compare('ne', value) }
  lt(value) { return this.#compare('lt', value) }
  gt(value) { return this.#compare('gt', value) }
  le(value) { return this.#compare('le', value) }
  ge(value) { return this.#compare('ge', value) }
  isNull() { return new Filter({ op: 'isNull', key: this.key }) }
  isNotNull() { return new Filter({ op: 'isNotNull', key: this.key }) }
  isLike(pattern) { return new Filter({ op: 'isLike', key: this.key, pattern: string(pattern, 'isLike() pattern') }) }
  isNotLike(pattern) {
    return new Filter({ op: 'isNotLike', key: this.key, pattern: string(pattern, 'isNotLike() pattern') })
  }
  exists() { return new Filter({ op: 'exists', key: this.key }) }
  doesNotExist() { return new Filter({ op: 'doesNotExist', key: this.key }) }
}

function Attribute(key) {
  return new AttributeCondition(key)
}
Attribute.prototype = AttributeCondition.prototype

function getDlqName(name) {
  return native.getDlqName(string(name, 'queue name'))
}

// ---------------------------------------------------------------------------------------------------
// Messages

// A claim (see src/message.rs) carries its messages column by column; a Message is a view of one row.
// Acks are gathered for one turn of the event loop and handed to the core together (one native call
// and one promise per claim, and one commit), which is what keeps a busy worker cheap.

const HELD = 0
const SETTLING = 1
const RELEASED = 2

let pendingAcks = null

function flushAcks() {
  const groups = pendingAcks
  pendingAcks = null
  for (const [leases, group] of groups) {
    const { indices, settles } = group
    let promise
    try {
      promise = leases.ack(indices)
    } catch (err) {
      const e = typed(err)
      for (let i = 0; i < settles.length; i += 3) settles[i + 2](e)
      continue
    }
    promise.then(
      (results) => {
        for (let i = 0, j = 0; i < results.length; i++, j += 3) {
          const r = results[i]
          if (r === null) settles[j + 1]()
          else settles[j](r, settles[j + 2])
        }
      },
      (err) => {
        const e = typed(err)
        for (let i = 0; i < settles.length; i += 3) settles[i + 2](e)
      },
    )
  }
}

function handleError(id) {
  return new HandleError(`message ${id} was already finished (acked, nacked or released)`, 'already_finished')
}

/** Connection and database failures leave the message held: it may be finished again. */
function retryable(err) {
  return err instanceof ConnectionError || err instanceof DatabaseError
}

/** A message leased to this worker (see index.d.ts). */
class Message {
  #claim
  #index
  #state = HELD
  #controller = null

  constructor(claim, index) {
    this.#claim = claim
    this.#index = index
    this.id = claim.ids[index]
    this.body = claim.bodies.subarray(index === 0 ? 0 : claim.ends[index - 1], claim.ends[index])
    this.attributes = claim.attributes[index] || {}
    this.deliveryAttempt = claim.deliveryAttempts[index]
    this.lastError = claim.lastErrors[index]
    this.deadLetterAttempts = claim.deadLetterAttempts[index]
  }

  get sentAt() {
    return new Date(this.#claim.sentAt[this.#index])
  }

  /** Whether this handle can no longer ack or nack (finished, being finished, or released). */
  get finished() {
    return this.#state !== HELD || this.#claim.leases.finished(this.#index)
  }

  get cancelled() {
    if (this.#controller === null) {
      const controller = new AbortController()
      this.#controller = controller
      const abort = () => controller.abort(new PgmqError(`message ${this.id} was cancelled`, 'cancelled'))
      const leases = this.#claim.leases
      if (leases.cancelled(this.#index)) abort()
      else if (this.#state === HELD && !leases.finished(this.#index)) leases.watchCancelled(this.#index, abort)
    }
    return this.#controller.signal
  }

  ack() {
    if (this.#state !== HELD) return Promise.reject(handleError(this.id))
    this.#state = SETTLING
    const leases = this.#claim.leases
    return new Promise((resolve, reject) => {
      if (pendingAcks === null) {
        pendingAcks = new Map()
        setImmediate(flushAcks)
      }
      let group = pendingAcks.get(leases)
      if (group === undefined) {
        group = { indices: [], settles: [] }
        pendingAcks.set(leases, group)
      }
      group.indices.push(this.#index)
      group.settles.push(
        (reason, fail) => {
          const err = typed(new Error(reason))
          if (retryable(err)) this.#state = HELD
          fail(err)
        },
        resolve,
        reject,
      )
    })
  }

  async nack(opts) {
    const o = options(opts, 'nack options')
    const delayMs = optionalMs(o.delayMs, 'delayMs')
    const error = optionalString(o.error, 'error')
    if (this.#state !== HELD) throw handleError(this.id)
    this.#state = SETTLING
    try {
      await call(callSync(() => this.#claim.leases.nack(this.#index, delayMs, error)))
    } catch (err) {
      if (retryable(err)) this.#state = HELD
      throw err
    }
  }

  async extend(ms) {
    if (ms === undefined) throw new TypeError('extend(ms) needs a number of milliseconds')
    const by = optionalMs(ms, 'extend(ms)')
    if (this.#state !== HELD) throw handleError(this.id)
    return call(this.#claim.leases.extend(this.#index, by))
  }

  release() {
    if (this.#state !== HELD) return
    this.#state = RELEASED
    this.#claim.leases.release(this.#index)
  }

  toString() {
    return `Message(${this.id}, attempt ${this.deliveryAttempt}, ${this.body.length} bytes)`
  }
}

/** `for await (const msg of queue.receive())`: one message per iteration (see index.d.ts). */
class MessageStream {
  #receiver
  #batch = null
  #next = 0
  #current = null
  #done = false
  #signal
  #onAbort = null

  constructor(receiver, signal) {
    this.#receiver = receiver
    this.#signal = signal
    if (signal !== undefined) {
      if (signal.aborted) this.#finish()
      else {
        this.#onAbort = () => this.#finish()
        signal.addEventListener('abort', this.#onAbort, { once: true })
      }
    }
  }

  [Symbol.asyncIterator]() {
    return this
  }

  async next() {
    const previous = this.#current
    if (previous !== null) {
      // Moving on: a message left unfinished goes back at once.
      this.#current = null
      previous.release()
    }
    while (!this.#done) {
      if (this.#batch !== null && this.#next < this.#batch.ids.length) {
        const message = new Message(this.#batch, this.#next++)
        this.#current = message
        return { done: false, value: message }
      }
      this.#batch = null
      let batch
      try {
        batch = await call(this.#receiver.nextBatch())
      } catch (err) {
        this.#finish()
        throw err
      }
      if (batch === null) break
      if (this.#done) {
        batch.leases.releaseFrom(0)
        break
      }
      this.#batch = batch
      this.#next = 0
    }
    this.#finish()
    return { done: true, value: undefined }
  }

  async return() {
    this.#finish()
    return { done: true, value: undefined }
  }

  /** Stops the stream (as `break` does): unfinished messages are released, iteration ends. */
  close() {
    this.#finish()
  }

  get closed() {
    return this.#done
  }

  #finish() {
    if (this.#done) return
    this.#done = true
    if (this.#onAbort !== null) {
      this.#signal.removeEventListener('abort', this.#onAbort)
      this.#onAbort = null
    }
    if (this.#current !== null) {
      this.#current.release()
      this.#current = null
    }
    if (this.#batch !== null) {
      this.#batch.leases.releaseFrom(this.#next)
      this.#batch = null
    }
    this.#receiver.close()
  }
}

// ---------------------------------------------------------------------------------------------------
// Sending

/** The handle of one sent message. */
class SentMessage {
  #completion

  constructor(completion) {
    this.#completion = completion
    this.id = completion.ids[0]
  }

  get tracked() {
    return this.#completion.tracked
  }

  /** Resolves to the message's outcome once it has one. */
  async completed() {
    const outcomes = await call(this.#completion.wait())
    return outcomes[this.id]
  }
}

/** The handle of a batch of sent messages. */
class SentBatch {
  #completion
  #ids = null

  constructor(completion) {
    this.#completion = completion
  }

  /** Made on first use: 1,000 id strings cost a bulk send that never reads them about 0.3 ms. */
  get ids() {
    if (this.#ids === null) this.#ids = this.#completion.ids
    return this.#ids
  }

  get tracked() {
    return this.#completion.tracked
  }

  /** Resolves to `{ [id]: outcome }` once every message has one. */
  async completed() {
    return call(this.#completion.wait())
  }
}

// ---------------------------------------------------------------------------------------------------
// Queue and client

/** The default `onError` of receive() and process(): a process warning (type PgmqWarning). `message` is
 * the message that could not be finished, or undefined for an error the receiver recovered from. */
function warnError(err, message) {
  const what = message === undefined ? 'receiving failed, retrying' : `could not finish message ${message.id}`
  process.emitWarning(`pgmq: ${what}: ${err && err.message}`, { type: 'PgmqWarning', code: err && err.code })
}

function onErrorOf(o) {
  const onError = o.onError === undefined ? warnError : o.onError
  if (typeof onError !== 'function') throw new TypeError(`onError must be a function, got ${describe(onError)}`)
  return onError
}

class Queue {
  #native

  constructor(nativeQueue) {
    this.#native = nativeQueue
  }

  get name() {
    return this.#native.name
  }

  async send(message, opts) {
    const o = options(opts, 'send options')
    const b = body(message, 'message body')
    const attrs = attributes(o.attributes, 'attributes')
    const completion = await call(callSync(() => this.#native.send(b, attrs, sendOptions(o))))
    return new SentMessage(completion)
  }

  async sendBatch(messages, opts) {
    if (!Array.isArray(messages)) {
      throw new TypeError(`sendBatch takes an array of messages, got ${describe(messages)}`)
    }
    const o = options(opts, 'sendBatch options')
    const bodies = new Array(messages.length)
    // null unless some message has attributes: 1,000 nulls would each cross into Rust for nothing.
    let attrs = null
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i]
      if (isPlainObject(m)) {
        bodies[i] = body(m.body, `messages[${i}].body`)
        const a = attributes(m.attributes, `messages[${i}].attributes`)
        if (a !== null) {
          if (attrs === null) attrs = new Array(messages.length).fill(null)
          attrs[i] = a
        }
      } else {
        bodies[i] = body(m, `messages[${i}]`)
      }
    }
    const completion = await call(callSync(() => this.#native.sendBatch(bodies, attrs, sendOptions(o))))
    return new SentBatch(completion)
  }

  #receiver(o, batchSize, onError) {
    let filter
    if (o.filter !== undefined && o.filter !== null) filter = postfix(treeOf(o.filter, 'filter'))
    const pollIntervalMs = optionalMs(o.pollIntervalMs, 'pollIntervalMs')
    // Called on the JS thread with each error the receiver recovered from (it goes on retrying). A throw
    // becomes a warning: it must neither stop the receiver nor surface as an uncaught exception.
    const report = (reason) => {
      try {
        onError(typed(new Error(reason)))
      } catch (thrown) {
        warnError(thrown)
      }
    }
    return callSync(() => this.#native.receiver({ batchSize, filter, pollIntervalMs }, report))
  }

  receive(opts) {
    const o = options(opts, 'receive options')
    const signal = signalOf(o.signal)
    const batchSize = optionalCount(o.batchSize, 'batchSize')
    return new MessageStream(this.#receiver(o, batchSize, onErrorOf(o)), signal)
  }

  async process(handler, opts) {
    if (typeof handler !== 'function') {
      throw new TypeError(`process() takes a handler function, got ${describe(handler)}`)
    }
    const o = options(opts, 'process options')
    const concurrency = optionalCount(o.concurrency, 'concurrency') || 10
    const signal = signalOf(o.signal)
    const onError = onErrorOf(o)
    const receiver = this.#receiver(o, concurrency, onError)
    if (signal !== undefined && signal.aborted) {
      receiver.close()
      return
    }
    const onAbort = () => receiver.close()
    if (signal !== undefined) signal.addEventListener('abort', onAbort, { once: true })

    const running = new Set()
    const run = async (message) => {
      let failure = null
      try {
        await handler(message)
      } catch (err) {
        failure = err
      }
      if (message.finished) return
      try {
        if (failure === null) await message.ack()
        else await message.nack({ error: failure instanceof Error ? (failure.stack || failure.message) : String(failure) })
      } catch (err) {
        // The ack or nack did not go through (a connection error still holds the message): release it
        // for prompt redelivery now rather than keep its lease alive until the garbage collector runs.
        message.release()
        try {
          onError(err, message)
        } catch (thrown) {
          warnError(thrown, message)
        }
      }
    }
    try {
      for (;;) {
        const batch = await call(receiver.nextBatch())
        if (batch === null) break
        for (let i = 0; i < batch.ids.length; i++) {
          const p = run(new Message(batch, i))
          running.add(p)
          p.then(() => running.delete(p))
        }
      }
    } finally {
      if (signal !== undefined) signal.removeEventListener('abort', onAbort)
      receiver.close()
      await Promise.all(running)
    }
  }

  async cancel(messageIds) {
    return call(this.#native.cancel(ids(messageIds, 'cancel ids')))
  }

  async stats() {
    return call(this.#native.stats())
  }

  async waitForCompletion(messageIds) {
    return call(this.#native.waitForCompletion(ids(messageIds, 'waitForCompletion ids')))
  }
}

function queueOptions(o) {
  const out = {
    ackDeadlineMs: optionalNumber(o.ackDeadlineMs, 'ackDeadlineMs'),
    maxDeliveryAttempts: optionalNumber(o.maxDeliveryAttempts, 'maxDeliveryAttempts'),
    retentionPeriodMs: optionalNumber(o.retentionPeriodMs, 'retentionPeriodMs'),
    noDeadLetterQueue: o.deadLetterQueue === null,
  }
  if (o.deadLetterQueue !== undefined && o.deadLetterQueue !== null) {
    const d = options(o.deadLetterQueue, 'deadLetterQueue')
    out.deadLetterQueue = {
      ackDeadlineMs: optionalNumber(d.ackDeadlineMs, 'deadLetterQueue.ackDeadlineMs'),
      maxDeliveryAttempts: optionalNumber(d.maxDeliveryAttempts, 'deadLetterQueue.maxDeliveryAttempts'),
      retentionPeriodMs: optionalNumber(d.retentionPeriodMs, 'deadLetterQueue.retentionPeriodMs'),
    }
  }
  if (o.backoff !== undefined && o.backoff !== null) {
    const b = options(o.backoff, 'backoff')
    const baseMs = optionalNumber(b.baseMs, 'backoff.baseMs')
    if (baseMs === undefined) throw new TypeError('backoff.baseMs is required')
    out.backoff = {
      baseMs,
      factor: optionalNumber(b.factor, 'backoff.factor'),
      maxMs: optionalNumber(b.maxMs, 'backoff.maxMs'),
      jitter: optionalBoolean(b.jitter, 'backoff.jitter'),
    }
  }
  for (const key of ['ackDeadlineMs', 'retentionPeriodMs']) {
    if (out[key] !== undefined && !Number.isFinite(out[key])) {
      throw new RangeError(`${key} must be a finite number of milliseconds, got ${out[key]}`)
    }
  }
  return out
}

class Client {
  #native

  constructor(nativeClient) {
    this.#native = nativeClient
  }

  async migrate() {
    return call(this.#native.migrate())
  }

  async createQueue(name, opts) {
    string(name, 'queue name')
    return call(this.#native.createQueue(name, queueOptions(options(opts, 'queue options'))))
  }

  async deleteQueue(name) {
    return call(this.#native.deleteQueue(string(name, 'queue name')))
  }

  queue(name) {
    string(name, 'queue name')
    return new Queue(callSync(() => this.#native.queue(name)))
  }

  async close() {
    return call(this.#native.close())
  }

  get closed() {
    return this.#native.closed
  }

  async [Symbol.asyncDispose]() {
    await this.close()
  }
}

async function connect(dsn, opts) {
  string(dsn, 'dsn')
  const o = options(opts, 'connect options')
  const nativeOptions = {
    listenDsn: optionalString(o.listenDsn, 'listenDsn'),
    poolSize: optionalCount(o.poolSize, 'poolSize'),
    connectTimeoutMs: optionalMs(o.connectTimeoutMs, 'connectTimeoutMs'),
    // Out of range (0, negative) is the core's InvalidOptionError, which names the rule.
    statementTimeoutMs: optionalNumber(o.statementTimeoutMs, 'statementTimeoutMs'),
    statementCache: optionalBoolean(o.statementCache, 'statementCache'),
    connectRetryMs: optionalNumber(o.connectRetryMs, 'connectRetryMs'),
    applicationName: optionalString(o.applicationName, 'applicationName'),
    schema: optionalString(o.schema, 'schema'),
  }
  return new Client(await call(native.NativeClient.connect(dsn, nativeOptions)))
}

module.exports = {
  connect,
  getDlqName,
  Outcome,
  Attribute,
  Filter,
  Client,
  Queue,
  Message,
  MessageStream,
  SentMessage,
  SentBatch,
  PgmqError,
  InvalidQueueNameError,
  InvalidOptionError,
  QueueNotFoundError,
  MessageNotFoundError,
  LeaseLostError,
  HandleError,
  SchemaMissingError,
  SchemaConflictError,
  ConnectionError,
  PgmqTimeoutError,
  DatabaseError,
  ClientClosedError,
  InternalError,
}

// Test hook, not API (hidden: not enumerable, not typed): makes the addon panic in a synchronous call or
// in a task on its runtime (`inRuntime`), so tests can prove a panic becomes an InternalError.
Object.defineProperty(module.exports, '_panicForTests', {
  value: (inRuntime) => (inRuntime ? call(native.panicForTestsAsync()) : callSync(() => native.panicForTests())),
})
