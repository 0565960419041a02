'use strict'
// The public JavaScript API of the npm package `pgmq`, over the native addon (./native.cjs, built from
// bindings-node/src by @napi-rs/cli). This layer only checks argument types, maps errors to classes,
// serializes bodies that are not bytes, hands the core's log events to Node and adapts async styles
// (async iterators, AbortSignal, `await using`); every queue operation, wait and retry, every filter and
// every message's state is the Rust core's. Types and documentation: ./index.d.ts.

const native = require('./native.cjs')

// ---------------------------------------------------------------------------------------------------
// The core's table of truths: every default and limit, the error codes, the outcome and message-state
// names. Read here, never written out again (bindings-node/src/defaults.rs; the tests compare them with
// the core's own rendering).

function deepFreeze(value) {
  if (typeof value === 'object' && value !== null) {
    for (const key of Object.keys(value)) deepFreeze(value[key])
    Object.freeze(value)
  }
  return value
}

/** `dead_lettered` -> `DeadLettered`. */
function pascal(snake) {
  return snake.replace(/(?:^|_)([a-z])/g, (_, c) => c.toUpperCase())
}

/** Every default and limit of the core (`pgmq_core::DEFAULTS`): `DEFAULTS.queue.ackDeadlineMs`, ... */
const DEFAULTS = deepFreeze(native.defaults())
/** The core's error codes (`pgmq_core::ERROR_CODES`): `{ code, transient, description }`, in its order. */
const ERROR_CODES = deepFreeze(native.errorCodes())

/** How a message finished: `Outcome.Completed === 'completed'`, ... */
const Outcome = deepFreeze(Object.fromEntries(native.outcomeNames().map((name) => [pascal(name), name])))
/** Where a message stands, as `queue.peek()` reads it: `MessageState.Ready === 'ready'`, ... */
const MessageState = deepFreeze(Object.fromEntries(native.messageStateNames().map((name) => [pascal(name), name])))

// ---------------------------------------------------------------------------------------------------
// Errors

const TRANSIENT = new Set(ERROR_CODES.filter((e) => e.transient).map((e) => e.code))

/** Base class of every pgmq error; `code` is the core's stable snake_case code. */
class PgmqError extends Error {
  constructor(message, code, options) {
    super(message, options)
    this.name = new.target.name
    this.code = code === undefined ? new.target.code : code
  }

  /** Whether trying again later may succeed (the core's table: `connection`, `timeout`, `queue_full`). */
  get transient() {
    return TRANSIENT.has(this.code)
  }
}
PgmqError.code = 'pgmq'

// One class per code of the core's table, named for it (`queue_not_found`: QueueNotFoundError), but for
// these names, which the package has always had.
const CLASS_NAMES = {
  // Misuses of a handle, one class for both (as in Python).
  already_finished: 'HandleError',
  not_tracked: 'HandleError',
  // Not `TimeoutError`: that is the name of the DOMException an AbortSignal.timeout() aborts with, and
  // `err.name` should tell a pgmq timeout from a caller's own deadline.
  timeout: 'PgmqTimeoutError',
  closed: 'ClientClosedError',
}

/** The error class of each code of the core: `{ [code]: class }`; the class's static `code` is its first code. */
const ERROR_CLASSES = Object.create(null)
/** The same classes by name, as the package exports them. */
const errorClasses = {}
for (const { code } of ERROR_CODES) {
  const name = Object.hasOwn(CLASS_NAMES, code) ? CLASS_NAMES[code] : `${pascal(code)}Error`
  if (!Object.hasOwn(errorClasses, name)) {
    const cls = { [name]: class extends PgmqError {} }[name]
    cls.code = code
    errorClasses[name] = cls
  }
  ERROR_CLASSES[code] = errorClasses[name]
}
const { InvalidOptionError, InternalError } = errorClasses

// `[pgmq:<code>] `, or with the fields of the error: `[pgmq:request_failed messageId=<id> outcome=<o>] `.
const CODED = /^\[pgmq:([a-z_]+)((?: [A-Za-z]+=[^\s\]]+)*)\] /

/**
 * The addon's errors carry the core's code as a `[pgmq:<code>] ` prefix, and the fields their class exposes
 * (RequestFailedError's `messageId` and `outcome`) as `name=value` after it; this makes them typed.
 */
function typed(err) {
  if (err instanceof Error && !(err instanceof PgmqError)) {
    const m = CODED.exec(err.message)
    if (m !== null) {
      const Cls = ERROR_CLASSES[m[1]] || PgmqError
      const typedErr = new Cls(err.message.slice(m[0].length), m[1])
      for (const field of m[2].split(' ').slice(1)) {
        const at = field.indexOf('=')
        typedErr[field.slice(0, at)] = field.slice(at + 1)
      }
      return typedErr
    }
    // Not one of pgmq's errors but a failure of the addon itself: a panic that napi caught (every
    // export catches them) or a napi call that failed. A bug, not a crash.
    if (err.code === 'GenericFailure') return new InternalError(err.message, InternalError.code, { cause: err })
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
// Logs: the core's log events (a lost LISTEN connection, a failed heartbeat or housekeeping run, a
// receiver retrying, a migration applied) and this layer's own reports (an automatic ack that failed, an
// onError that threw) go to the logger given to setLogger(); without one, warnings and errors become
// process warnings of type PgmqWarning with code PGMQ_WARN / PGMQ_ERROR.

const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] // most severe first: the core's names
let logger = null

function warning(level, message) {
  process.emitWarning(message, { type: 'PgmqWarning', code: `PGMQ_${level.toUpperCase()}` })
}

function log(level, message) {
  if (logger === null) {
    if (level === 'error' || level === 'warn') warning(level, message)
    return
  }
  const method = logger[level]
  if (typeof method !== 'function') return
  try {
    method.call(logger, message)
  } catch (err) {
    // A logger that throws must not become an uncaught exception (this may run in a native callback).
    warning('error', `pgmq: the logger's ${level}() threw (${err && err.message}) on: ${message}`)
  }
}

/** Where pgmq's log events go, for the whole process (see index.d.ts). */
function setLogger(value) {
  if (value === undefined || value === null) {
    logger = null
    native.setLogLevel('warn')
    return
  }
  if (typeof value !== 'object' && typeof value !== 'function') {
    throw new TypeError(`setLogger takes an object with error / warn / info / debug methods, or null; got ${describe(value)}`)
  }
  let mostVerbose = 'error'
  for (const level of LOG_LEVELS) {
    const method = value[level]
    if (method === undefined || method === null) continue
    if (typeof method !== 'function') throw new TypeError(`logger.${level} must be a function, got ${describe(method)}`)
    mostVerbose = level
  }
  logger = value
  // Events of a level the logger has no method for do not even cross from the core.
  native.setLogLevel(mostVerbose)
}

native.forwardLogs((event) => log(event.level, event.message))

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

/** Bytes (a Buffer, any typed array or DataView, an ArrayBuffer) as a Buffer, without a copy; else undefined. */
function bytes(v) {
  if (Buffer.isBuffer(v)) return v
  if (ArrayBuffer.isView(v)) return Buffer.from(v.buffer, v.byteOffset, v.byteLength)
  if (v instanceof ArrayBuffer || (typeof SharedArrayBuffer === 'function' && v instanceof SharedArrayBuffer)) {
    return Buffer.from(v)
  }
  return undefined
}

function scalar(v, what) {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v
  if (typeof v === 'number') {
    // The core refuses these with invalid_option (the addon's conversion could not carry them to it).
    if (!Number.isFinite(v)) throw new InvalidOptionError(`${what} must be a finite number, got ${v}`)
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

/**
 * A sendBatch entry's `after`: positions of entries, whole numbers >= 0, or null for none. Which entries
 * it may name (earlier ones only) and how many are the core's to check (InvalidOptionError).
 */
function positions(v, what) {
  if (v === undefined || v === null) return null
  if (!Array.isArray(v)) throw new TypeError(`${what} must be an array of entry positions, got ${describe(v)}`)
  for (const n of v) {
    if (typeof n !== 'number') throw new TypeError(`each of ${what} must be a number, got ${describe(n)}`)
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`each of ${what} must be a whole number >= 0, got ${n}`)
  }
  return v.length === 0 ? null : v
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
  return {
    delayMs,
    scheduleAtMs,
    track: optionalBoolean(o.track, 'track'),
    waitForRoomMs: optionalMs(o.waitForRoomMs, 'waitForRoomMs'),
    // Its length and characters are the core's to check (InvalidOptionError), as is `track: false` with it.
    group: optionalString(o.group, 'group'),
    // Strings here; UUIDs, known, tracked and not failed are the core's to check (InvalidOptionError).
    dependsOn: o.dependsOn === undefined || o.dependsOn === null ? undefined : ids(o.dependsOn, 'dependsOn'),
  }
}

/**
 * A native call that takes a NativeStop (`start(stop)`), stopped by `signal`: an abort drops the core's
 * future, and the promise rejects with the signal's reason once the native call has ended (so nothing
 * happens after the rejection). A call that finished before it saw the stop resolves as usual.
 */
function stoppable(signal, start) {
  if (signal === undefined) return call(callSync(() => start(null)))
  if (signal.aborted) return Promise.reject(signal.reason)
  const stop = new native.NativeStop()
  const pending = call(callSync(() => start(stop)))
  return new Promise((resolve, reject) => {
    let aborted = false
    const onAbort = () => {
      aborted = true
      stop.stop()
    }
    signal.addEventListener('abort', onAbort, { once: true })
    pending.then(
      (value) => {
        signal.removeEventListener('abort', onAbort)
        resolve(value)
      },
      (err) => {
        signal.removeEventListener('abort', onAbort)
        reject(aborted ? signal.reason : err)
      },
    )
  })
}

// ---------------------------------------------------------------------------------------------------
// Filters

// Filters are the core's: `Attribute(key)` makes a native AttributeCondition, whose methods make native
// Filters (a wrong type is a TypeError there); `and` / `or` past MAX_FILTER_DEPTH levels throw the core's
// invalid_option, made an InvalidOptionError here like every error of the addon.
const { Filter, AttributeCondition } = native
for (const name of ['and', 'or']) {
  const combine = Filter.prototype[name]
  Filter.prototype[name] = function (other) {
    try {
      return combine.call(this, other)
    } catch (err) {
      throw typed(err)
    }
  }
}

/** Starts a filter on one attribute: `Attribute('color').eq('red')`. Works with or without `new`. */
function Attribute(key) {
  return new AttributeCondition(key)
}
Attribute.prototype = AttributeCondition.prototype

function filterOf(v) {
  if (v === undefined || v === null) return undefined
  if (!(v instanceof Filter)) throw new TypeError(`filter must be a Filter (made with Attribute), got ${describe(v)}`)
  return v
}

function getDlqName(name) {
  return native.getDlqName(string(name, 'queue name'))
}

// ---------------------------------------------------------------------------------------------------
// Bodies: bytes cross as they are; a string is its UTF-8 text, unless the queue has a serializer; any
// other value is serialized (JSON by default) and labelled with the content-type attribute, whose name
// and JSON value are the core's, as in every language.

const { contentTypeAttribute: CONTENT_TYPE_ATTRIBUTE, jsonContentType: JSON_CONTENT_TYPE } = DEFAULTS.conventions

/** UTF-8 JSON: `JSON.stringify` / `JSON.parse`, content type `application/json`. */
const jsonSerializer = Object.freeze({
  contentType: JSON_CONTENT_TYPE,
  serialize(value) {
    return JSON.stringify(value)
  },
  deserialize(body) {
    return JSON.parse(body.toString('utf8'))
  },
})

function serializerOf(v) {
  if (v === undefined || v === null) return null
  if (
    typeof v !== 'object' ||
    typeof v.serialize !== 'function' ||
    typeof v.deserialize !== 'function' ||
    typeof v.contentType !== 'string' ||
    v.contentType === ''
  ) {
    throw new TypeError(`serializer must be { contentType: string, serialize(value), deserialize(body) }, got ${describe(v)}`)
  }
  return v
}

/**
 * A body to send and its attributes: `[bytes, attributes]`. `attrs` is null or a checked attributes
 * object, returned as it is unless the body was serialized (then a copy with the content type).
 */
function encode(value, attrs, serializer, what) {
  const b = bytes(value)
  if (b !== undefined) return [b, attrs]
  if (typeof value === 'string' && serializer === null) return [Buffer.from(value, 'utf8'), attrs]
  const s = serializer || jsonSerializer
  const out = s.serialize(value)
  let encoded = bytes(out)
  if (encoded === undefined) {
    if (typeof out !== 'string') {
      throw new TypeError(
        s === jsonSerializer
          ? `${what} must be a Buffer, Uint8Array, string or a value JSON.stringify can encode, got ${describe(value)}`
          : `the serializer's serialize() must return a string or bytes, got ${describe(out)} (${what})`,
      )
    }
    encoded = Buffer.from(out, 'utf8')
  }
  return [encoded, labelled(attrs, s.contentType, what)]
}

/** `attrs` (null or checked attributes) with the content type of a serialized body, which a given one must equal. */
function labelled(attrs, contentType, what) {
  if (attrs === null) return { [CONTENT_TYPE_ATTRIBUTE]: contentType }
  const given = attrs[CONTENT_TYPE_ATTRIBUTE]
  if (given !== undefined && given !== contentType) {
    throw new InvalidOptionError(
      `${what} is serialized as ${JSON.stringify(contentType)}, but its attributes say ` +
        `"${CONTENT_TYPE_ATTRIBUTE}": ${JSON.stringify(given)}: send bytes to label them yourself, ` +
        'or give the queue a serializer with that contentType',
    )
  }
  return { ...attrs, [CONTENT_TYPE_ATTRIBUTE]: contentType }
}

/** A value as JSON bytes (`JSON.stringify`, whatever the queue's serializer), labelled `application/json`. */
function encodeJson(value, attrs, what) {
  return [Buffer.from(jsonText(value, what), 'utf8'), labelled(attrs, JSON_CONTENT_TYPE, what)]
}

/** Whether a sendBatch entry is `{ body, attributes?, after? }` rather than a value to serialize. */
function isEnvelope(m) {
  if (!isPlainObject(m) || !Object.hasOwn(m, 'body')) return false
  for (const key in m) if (key !== 'body' && key !== 'attributes' && key !== 'after') return false
  return true
}

/**
 * The value of a received or peeked message's body (its `json()`), by the serializer of the queue handle it
 * was read through (JSON without one). Which labels read as JSON is the core's rule, the same in every
 * language (`application/json`, with parameters or not, `application/<x>+json`, or no label); another
 * serializer reads its own label, or none. A body labelled as another encoding is a TypeError, unparsed.
 */
function decode(message, serializer) {
  return decodeLabelled(message.body, message.attributes[CONTENT_TYPE_ATTRIBUTE], serializer, `message ${message.id}`, 'message.body')
}

/** `body` labelled `type` (undefined: unlabelled), read by `serializer` under decode()'s rule. */
function decodeLabelled(body, type, serializer, what, where) {
  const s = serializer || jsonSerializer
  const readable =
    type === s.contentType ||
    (s.contentType === JSON_CONTENT_TYPE
      ? native.isJsonContentType(typeof type === 'string' ? type : null)
      : type === undefined)
  if (!readable) {
    throw new TypeError(
      `${what} has ${CONTENT_TYPE_ATTRIBUTE} ${JSON.stringify(type)}, which json() does not read ` +
        `(it reads ${JSON.stringify(s.contentType)}, or one without ${CONTENT_TYPE_ATTRIBUTE}): decode ${where}`,
    )
  }
  return s.deserialize(body)
}

// ---------------------------------------------------------------------------------------------------
// Messages

// A claim (see src/message.rs) carries its messages column by column; a Message is a view of one row.
// The core keeps each message's state and decides every call. Acks are gathered for one turn of the event
// loop and handed to the core together (one native call and one promise per claim, and one commit), which
// is what keeps a busy worker cheap; while a message's ack is on its way, its other calls wait for it to
// be done, so that the core sees them in the order they were made.

let pendingAcks = null

function flushAcks() {
  const groups = pendingAcks
  pendingAcks = null
  for (const [leases, group] of groups) flushGroup(leases, group)
}

function noop() {}

function flushGroup(leases, group) {
  const { indices, settles, results, contentTypes } = group
  const failAll = (err) => {
    const e = typed(err)
    for (let i = 0; i < settles.length; i++) settles[i](e)
  }
  let promise
  try {
    promise = results === null ? leases.ack(indices) : leases.ack(indices, results, contentTypes)
  } catch (err) {
    failAll(err)
    return
  }
  promise.then((results) => {
    for (let i = 0; i < results.length; i++) {
      const r = results[i]
      settles[i](r === null ? null : typed(new Error(r)))
    }
  }, failAll)
}

/** A message leased to this worker (see index.d.ts). */
class Message {
  #claim
  #index
  #source
  #controller = null
  // While an ack of this handle is on its way (in the batch, then in the core): a promise of its end.
  // The calls that could race it (ack, nack, extend) wait for that; a release is moot meanwhile.
  #acking = null

  constructor(claim, index, source) {
    this.#claim = claim
    this.#index = index
    this.#source = source
    this.id = claim.ids[index]
    this.body = claim.bodies.subarray(index === 0 ? 0 : claim.ends[index - 1], claim.ends[index])
    this.attributes = claim.attributes[index] || {}
    this.deliveryAttempt = claim.deliveryAttempts[index]
    this.lastError = claim.lastErrors[index]
    this.deadLetterAttempts = claim.deadLetterAttempts[index]
  }

  get queue() {
    return this.#source.name
  }

  get sentAt() {
    return new Date(this.#claim.sentAt[this.#index])
  }

  get leaseToken() {
    return this.#claim.leases.leaseToken(this.#index)
  }

  /** The body, parsed by the queue's serializer (JSON by default), unless it is labelled as another encoding. */
  json() {
    return decode(this, this.#source.serializer)
  }

  /** Whether this handle can no longer ack or nack (finished, being finished, or released). */
  get finished() {
    return this.#acking !== null || this.#claim.leases.finished(this.#index)
  }

  get leaseLost() {
    return this.#claim.leases.leaseLost(this.#index)
  }

  get cancelled() {
    if (this.#controller === null) {
      const controller = new AbortController()
      this.#controller = controller
      const abort = () => controller.abort(new PgmqError(`message ${this.id} was cancelled`, 'cancelled'))
      const leases = this.#claim.leases
      if (leases.cancelled(this.#index)) abort()
      else if (!this.finished) leases.watchCancelled(this.#index, abort)
    }
    return this.#controller.signal
  }

  ack(result, opts) {
    if (result === undefined) {
      if (opts !== undefined && opts !== null) return Promise.reject(new TypeError('ack(result, options): options without a result'))
      return this.#ack(null, null)
    }
    let bytes, attrs
    try {
      const contentType = optionalString(options(opts, 'ack options').contentType, 'contentType')
      const label = contentType === undefined ? null : { [CONTENT_TYPE_ATTRIBUTE]: contentType }
      ;[bytes, attrs] = encode(result, label, this.#source.serializer, 'the result')
    } catch (err) {
      return Promise.reject(err) // as the async calls do: a promise, never a throw
    }
    return this.#ack(bytes, attrs === null ? null : attrs[CONTENT_TYPE_ATTRIBUTE])
  }

  ackJson(value) {
    let bytes
    try {
      ;[bytes] = encodeJson(value, null, 'the result')
    } catch (err) {
      return Promise.reject(err)
    }
    return this.#ack(bytes, JSON_CONTENT_TYPE)
  }

  /** Acks, keeping `result` (bytes, or null for none) labelled `contentType` (or null). */
  #ack(result, contentType) {
    // A second ack while one is on its way: the core answers it (already_finished, unless the first one
    // failed on a connection error, or its result was refused, and the message is held again) once the
    // first is done.
    if (this.#acking !== null) return this.#acking.then(() => this.#ack(result, contentType))
    const leases = this.#claim.leases
    const acked = new Promise((resolve, reject) => {
      if (pendingAcks === null) {
        pendingAcks = new Map()
        setImmediate(flushAcks)
      }
      let group = pendingAcks.get(leases)
      if (group === undefined) {
        // results / contentTypes: made by the first ack of the turn that has a result (plain acks stay
        // one array of indices), entry k for indices[k]; a hole is a plain ack.
        group = { indices: [], settles: [], results: null, contentTypes: null }
        pendingAcks.set(leases, group)
      }
      const k = group.indices.push(this.#index) - 1
      if (result !== null) {
        if (group.results === null) {
          group.results = []
          group.contentTypes = []
        }
        group.results[k] = result
        group.contentTypes[k] = contentType
      }
      group.settles.push((err) => {
        this.#acking = null
        if (err === null) resolve()
        else reject(err)
      })
    })
    this.#acking = acked.then(noop, noop)
    return acked
  }

  async nack(opts) {
    const o = options(opts, 'nack options')
    const delayMs = optionalMs(o.delayMs, 'delayMs')
    const error = optionalString(o.error, 'error')
    if (this.#acking !== null) await this.#acking
    return call(callSync(() => this.#claim.leases.nack(this.#index, delayMs, error)))
  }

  async extend(ms) {
    if (ms === undefined) throw new TypeError('extend(ms) needs a number of milliseconds')
    const by = optionalMs(ms, 'extend(ms)')
    if (this.#acking !== null) await this.#acking
    return call(callSync(() => this.#claim.leases.extend(this.#index, by)))
  }

  release() {
    if (this.#acking === null) this.#claim.leases.release(this.#index)
  }

  toString() {
    return `Message(${this.id}, attempt ${this.deliveryAttempt}, ${this.body.length} bytes)`
  }
}

/** `for await (const msg of queue.receive())`: one message per iteration (see index.d.ts). */
class MessageStream {
  #receiver
  #source
  #batch = null
  #next = 0
  #current = null
  #done = false
  #signal
  #onAbort = null

  constructor(receiver, source, signal) {
    this.#receiver = receiver
    this.#source = source
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
        const message = new Message(this.#batch, this.#next++, this.#source)
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

/** A message as `queue.peek()` read it: a copy of its row, holding no lease (see index.d.ts). */
class PeekedMessage {
  #serializer

  constructor(row, serializer) {
    this.#serializer = serializer
    this.id = row.id
    this.queue = row.queue
    this.body = row.body
    this.attributes = row.attributes || {}
    this.state = row.state
    this.deliveryAttempts = row.deliveryAttempts
    this.sentAt = new Date(row.sentAtMs)
    this.availableAt = new Date(row.availableAtMs)
    this.lastError = row.lastError ?? null // (napi leaves out what is None)
    this.deadLetterAttempts = row.deadLetterAttempts ?? null
  }

  /** The body, parsed as `Message.json()` parses it. */
  json() {
    return decode(this, this.#serializer)
  }

  toString() {
    return `PeekedMessage(${this.id}, ${this.state}, attempt ${this.deliveryAttempts}, ${this.body.length} bytes)`
  }
}

// ---------------------------------------------------------------------------------------------------
// Sending, and the replies to what was sent

const inspectCustom = Symbol.for('nodejs.util.inspect.custom')

/** How a message finished and the result its worker gave it (see index.d.ts). */
class Reply {
  #serializer

  constructor(reply, serializer) {
    this.#serializer = serializer
    this.outcome = reply.outcome
    this.result = reply.result ?? null // (napi leaves out what is None)
    this.contentType = reply.contentType ?? null
    this.reason = reply.reason ?? null
  }

  /** The result, parsed as `Message.json()` parses a body (by the serializer of the queue handle). */
  json() {
    if (this.result === null) {
      throw new InvalidOptionError(`json(): the message finished (${this.outcome}) without a result`)
    }
    return decodeLabelled(this.result, this.contentType ?? undefined, this.#serializer, 'the result', 'reply.result')
  }

  // The result may be large or secret: its length only (as a Message's toString() gives its body's).
  toString() {
    const result = this.result === null ? 'no result' : `${this.result.length} bytes`
    const contentType = this.contentType === null ? '' : `, ${this.contentType}`
    const reason = this.reason === null ? '' : `: ${this.reason}`
    return `Reply(${this.outcome}${reason}, ${result}${contentType})`
  }

  [inspectCustom](depth, opts, inspect) {
    const result = this.result === null ? 'null' : `<${this.result.length} bytes>`
    const show = (v) => (typeof inspect === 'function' ? inspect(v, opts) : JSON.stringify(v))
    return (
      `Reply { outcome: ${show(this.outcome)}, result: ${result}, contentType: ${show(this.contentType)}, ` +
      `reason: ${show(this.reason)} }`
    )
  }
}

/** The handle of one sent message. */
class SentMessage {
  #completion
  #serializer

  constructor(completion, serializer) {
    this.#completion = completion
    this.#serializer = serializer
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

  /** Resolves to the message's Reply (outcome and result) once it has an outcome. */
  async reply() {
    const replies = await call(this.#completion.replies())
    return new Reply(replies[this.id], this.#serializer)
  }
}

/** The handle of a batch of sent messages. */
class SentBatch {
  #completion
  #serializer
  #ids = null

  constructor(completion, serializer) {
    this.#completion = completion
    this.#serializer = serializer
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

  /** Resolves to a Map of id -> Reply, in send order, once every message has an outcome. */
  async replies() {
    const replies = await call(this.#completion.replies())
    return new Map(this.ids.map((id) => [id, new Reply(replies[id], this.#serializer)]))
  }
}

// ---------------------------------------------------------------------------------------------------
// Queue and client

/** Reports what an onError handler threw: it must neither stop the loop nor become uncaught. */
function onErrorThrew(thrown) {
  const what = thrown instanceof Error ? thrown.stack || thrown.message : String(thrown)
  log('error', `pgmq: an onError handler threw: ${what}`)
}

function onErrorOf(o) {
  if (o.onError === undefined || o.onError === null) return undefined
  if (typeof o.onError !== 'function') throw new TypeError(`onError must be a function, got ${describe(o.onError)}`)
  return o.onError
}

// How many handlers process() runs at once by default: Node's own (a loop of this package, which the core
// has no option for), stated in index.d.ts.
const PROCESS_CONCURRENCY = 10

class Queue {
  #native
  // What the messages of its streams read: { name, serializer }.
  #source

  constructor(nativeQueue, serializer) {
    this.#native = nativeQueue
    this.#source = { name: nativeQueue.name, serializer }
  }

  get name() {
    return this.#source.name
  }

  get serializer() {
    return this.#source.serializer
  }

  async send(message, opts) {
    const o = options(opts, 'send options')
    const [b, attrs] = encode(message, attributes(o.attributes, 'attributes'), this.#source.serializer, 'message body')
    const nativeOptions = sendOptions(o)
    const completion = await stoppable(signalOf(o.signal), (stop) => this.#native.send(b, attrs, nativeOptions, stop))
    return new SentMessage(completion, this.#source.serializer)
  }

  async request(body, opts) {
    const o = options(opts, 'request options')
    const [b, attrs] = encode(body, attributes(o.attributes, 'attributes'), this.#source.serializer, 'request body')
    return this.#request(b, attrs, o)
  }

  async requestJson(value, opts) {
    const o = options(opts, 'requestJson options')
    const [b, attrs] = encodeJson(value, attributes(o.attributes, 'attributes'), 'the value')
    return this.#request(b, attrs, o)
  }

  /**
   * The core's request (send tracked, wait, cancel on timeout). An aborted signal rejects at once with
   * its reason and drops the core's wait, which leaves the request queued (the core's rule): its
   * timeout's cancel never comes.
   */
  async #request(body, attrs, o) {
    const timeoutMs = optionalMs(o.timeoutMs, 'timeoutMs')
    const signal = signalOf(o.signal)
    if (signal !== undefined && signal.aborted) throw signal.reason
    const stop = signal === undefined ? null : new native.NativeStop()
    const serializer = this.#source.serializer
    const pending = call(callSync(() => this.#native.request(body, attrs, timeoutMs, stop)))
    if (signal === undefined) return new Reply(await pending, serializer)
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        stop.stop()
        reject(signal.reason)
      }
      signal.addEventListener('abort', onAbort, { once: true })
      pending.then(
        (reply) => {
          signal.removeEventListener('abort', onAbort)
          resolve(new Reply(reply, serializer))
        },
        (err) => {
          signal.removeEventListener('abort', onAbort)
          reject(err)
        },
      )
    })
  }

  async sendBatch(messages, opts) {
    if (!Array.isArray(messages)) {
      throw new TypeError(`sendBatch takes an array of messages, got ${describe(messages)}`)
    }
    const o = options(opts, 'sendBatch options')
    const serializer = this.#source.serializer
    const bodies = new Array(messages.length)
    // null unless some message has attributes (or dependencies): 1,000 nulls would each cross into Rust
    // for nothing.
    let attrs = null
    let after = null
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i]
      let b = bytes(m)
      let a = null
      let p = null
      if (b === undefined) {
        if (isEnvelope(m)) {
          ;[b, a] = encode(m.body, attributes(m.attributes, `messages[${i}].attributes`), serializer, `messages[${i}].body`)
          p = positions(m.after, `messages[${i}].after`)
        } else {
          ;[b, a] = encode(m, null, serializer, `messages[${i}]`)
        }
      }
      bodies[i] = b
      if (a !== null) {
        if (attrs === null) attrs = new Array(messages.length).fill(null)
        attrs[i] = a
      }
      if (p !== null) {
        if (after === null) after = new Array(messages.length).fill(null)
        after[i] = p
      }
    }
    const nativeOptions = sendOptions(o)
    const completion = await stoppable(signalOf(o.signal), (stop) =>
      this.#native.sendBatch(bodies, attrs, after, nativeOptions, stop),
    )
    return new SentBatch(completion, serializer)
  }

  #receiver(o, batchSize, onError) {
    const filter = filterOf(o.filter)
    const pollIntervalMs = optionalMs(o.pollIntervalMs, 'pollIntervalMs')
    // Without onError, what the receiver recovers from reaches Node as the core's warning (see Logs).
    // With one, it is called on the JS thread with each of them (the receiver goes on retrying).
    const report =
      onError === undefined
        ? undefined
        : (reason) => {
            try {
              onError(typed(new Error(reason)))
            } catch (thrown) {
              onErrorThrew(thrown)
            }
          }
    return callSync(() => this.#native.receiver({ batchSize, pollIntervalMs }, filter, report))
  }

  receive(opts) {
    const o = options(opts, 'receive options')
    const signal = signalOf(o.signal)
    const batchSize = optionalCount(o.batchSize, 'batchSize')
    return new MessageStream(this.#receiver(o, batchSize, onErrorOf(o)), this.#source, signal)
  }

  async process(handler, opts) {
    if (typeof handler !== 'function') {
      throw new TypeError(`process() takes a handler function, got ${describe(handler)}`)
    }
    const o = options(opts, 'process options')
    const concurrency = optionalCount(o.concurrency, 'concurrency') || PROCESS_CONCURRENCY
    const signal = signalOf(o.signal)
    const onError = onErrorOf(o)
    const receiver = this.#receiver(o, concurrency, onError)
    if (signal !== undefined && signal.aborted) {
      receiver.close()
      return
    }
    const onAbort = () => receiver.close()
    if (signal !== undefined) signal.addEventListener('abort', onAbort, { once: true })

    const source = this.#source
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
        if (onError === undefined) {
          const queue = JSON.stringify(source.name)
          log('warn', `pgmq: could not finish message ${message.id} on queue ${queue}: ${err && err.message}`)
          return
        }
        try {
          onError(err, message)
        } catch (thrown) {
          onErrorThrew(thrown)
        }
      }
    }
    try {
      for (;;) {
        const batch = await call(receiver.nextBatch())
        if (batch === null) break
        for (let i = 0; i < batch.ids.length; i++) {
          const p = run(new Message(batch, i, source))
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

  async peek(opts) {
    const o = options(opts, 'peek options')
    const filter = filterOf(o.filter)
    // Out of range (0, past the core's maximum, fractional, NaN) is the core's InvalidOptionError, as an
    // unknown state is.
    const limit = optionalNumber(o.limit, 'limit')
    const state = optionalString(o.state, 'state')
    const rows = await call(callSync(() => this.#native.peek({ limit, state }, filter)))
    const serializer = this.#source.serializer
    return rows.map((row) => new PeekedMessage(row, serializer))
  }

  async purge() {
    return call(this.#native.purge())
  }

  async cancel(messageIds) {
    return call(this.#native.cancel(ids(messageIds, 'cancel ids')))
  }

  async stats() {
    return call(this.#native.stats())
  }

  async setMaxMessages(max) {
    if (max !== null && typeof max !== 'number') {
      throw new TypeError(`setMaxMessages takes a number of messages, or null to lift the bound; got ${describe(max)}`)
    }
    return call(this.#native.setMaxMessages(max))
  }

  async waitForCompletion(messageIds) {
    return call(this.#native.waitForCompletion(ids(messageIds, 'waitForCompletion ids')))
  }

  async cancelGroup(group) {
    return call(this.#native.cancelGroup(string(group, 'group')))
  }

  async waitForGroup(group, opts) {
    return waitForGroup(this.#native, group, opts)
  }

  async groupStats(group) {
    return call(this.#native.groupStats(string(group, 'group')))
  }
}

/** `waitForGroup(group, { signal })` of a native queue or client: an abort drops the core's wait. */
function waitForGroup(nativeHandle, group, opts) {
  string(group, 'group')
  const signal = signalOf(options(opts, 'waitForGroup options').signal)
  return stoppable(signal, (stop) => nativeHandle.waitForGroup(group, stop))
}

function queueOptions(o) {
  const out = {
    ackDeadlineMs: optionalNumber(o.ackDeadlineMs, 'ackDeadlineMs'),
    maxDeliveryAttempts: optionalNumber(o.maxDeliveryAttempts, 'maxDeliveryAttempts'),
    retentionPeriodMs: optionalNumber(o.retentionPeriodMs, 'retentionPeriodMs'),
    noDeadLetterQueue: o.deadLetterQueue === null,
    maxMessages: optionalNumber(o.maxMessages, 'maxMessages'),
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
    out.backoff = {
      baseMs: optionalNumber(b.baseMs, 'backoff.baseMs'),
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

/** A native queue info with `null` for what it has not (napi leaves out what is None). */
function queueInfo(q) {
  q.deadLetterQueue ??= null
  q.backoff ??= null
  q.maxMessages ??= null
  return q
}

class Client {
  #native

  constructor(nativeClient) {
    this.#native = nativeClient
  }

  async migrate() {
    return call(this.#native.migrate())
  }

  async schemaVersion() {
    return call(this.#native.schemaVersion())
  }

  async createQueue(name, opts) {
    string(name, 'queue name')
    return call(this.#native.createQueue(name, queueOptions(options(opts, 'queue options'))))
  }

  async deleteQueue(name) {
    return call(this.#native.deleteQueue(string(name, 'queue name')))
  }

  async listQueues() {
    return (await call(this.#native.listQueues())).map(queueInfo)
  }

  async listQueuesWithStats() {
    const overviews = await call(this.#native.listQueuesWithStats())
    return overviews.map((o) => ({ info: queueInfo(o.info), stats: o.stats, oldestReadyAgeMs: o.oldestReadyAgeMs ?? null }))
  }

  async redrive(from, to) {
    return call(this.#native.redrive(string(from, 'redrive source queue'), string(to, 'redrive target queue')))
  }

  async cancelGroup(group) {
    return call(this.#native.cancelGroup(string(group, 'group')))
  }

  async waitForGroup(group, opts) {
    return waitForGroup(this.#native, group, opts)
  }

  async groupStats(group) {
    return call(this.#native.groupStats(string(group, 'group')))
  }

  queue(name, opts) {
    string(name, 'queue name')
    const serializer = serializerOf(options(opts, 'queue handle options').serializer)
    return new Queue(callSync(() => this.#native.queue(name)), serializer)
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
    // Out of range (0, negative, not finite, fractional counts) is InvalidOptionError, which names the rule.
    poolSize: optionalNumber(o.poolSize, 'poolSize'),
    connectTimeoutMs: optionalNumber(o.connectTimeoutMs, 'connectTimeoutMs'),
    statementTimeoutMs: optionalNumber(o.statementTimeoutMs, 'statementTimeoutMs'),
    statementCache: optionalBoolean(o.statementCache, 'statementCache'),
    connectRetryMs: optionalNumber(o.connectRetryMs, 'connectRetryMs'),
    applicationName: optionalString(o.applicationName, 'applicationName'),
    schema: optionalString(o.schema, 'schema'),
    maintenanceIntervalMs: optionalNumber(o.maintenanceIntervalMs, 'maintenanceIntervalMs'),
  }
  return new Client(await call(native.NativeClient.connect(dsn, nativeOptions)))
}

// ---------------------------------------------------------------------------------------------------
// The transactional send (outbox): a send that commits or rolls back with the application's own writes,
// on the connection of the driver it already uses. `sql.send(...)` is a query `{ text, values }` for
// node-postgres (and anything taking a text and its parameters); the text is the core's statement
// (pgmq_core::outbox), calling pgmq's SQL functions, which do what queue.send() does and NOTIFY on commit.
// The values are converted as queue.send() converts its arguments.

/** The core's statement of each kind (and schema), made once. */
const outboxStatements = new Map()

function outboxStatement(kind, schema) {
  const key = schema === undefined ? kind : `${kind}\0${schema}`
  let text = outboxStatements.get(key)
  if (text === undefined) {
    text = callSync(() => native.outboxStatement(kind, schema === undefined ? null : schema))
    outboxStatements.set(key, text)
  }
  return text
}

/** The SQLSTATEs pgmq's SQL functions raise, and the core's code of each: `{ PQ001: 'queue_not_found', ... }`. */
const SQLSTATES = deepFreeze(native.sqlstates())

/**
 * The query's values after the body: attributes, delay, schedule, track. `attrs` is already JSON text
 * (or an array of them), or null.
 */
function outboxQuery(kind, queue, body, attrs, o) {
  const { delayMs, scheduleAtMs, track, group, dependsOn } = sendOptions(o)
  // The SQL functions take no group and no dependencies yet: refused rather than dropped, which would
  // leave the message out of its group's cancel and wait, or let it run before what it depends on.
  if (group !== undefined) {
    throw new InvalidOptionError('the transactional send (sql.*) takes no group yet: send grouped messages with queue.send')
  }
  if (dependsOn !== undefined && dependsOn.length > 0) {
    throw new InvalidOptionError('the transactional send (sql.*) takes no dependencies yet: send them with queue.send')
  }
  const schema = optionalString(o.schema, 'schema')
  return {
    text: outboxStatement(kind, schema),
    values: [
      queue,
      body,
      attrs,
      // Seconds, as the statement's make_interval takes them (float8: fractions of a millisecond kept).
      delayMs === undefined ? null : delayMs / 1000,
      // ISO text rather than a Date: every driver passes it on as it is, and the statement casts it.
      scheduleAtMs === undefined ? null : new Date(scheduleAtMs).toISOString(),
      track === undefined ? DEFAULTS.send.track : track,
    ],
  }
}

function jsonText(value, what) {
  const text = JSON.stringify(value)
  if (typeof text !== 'string') throw new TypeError(`${what} must be a value JSON.stringify can encode, got ${describe(value)}`)
  return text
}

function attributesText(v, what) {
  const a = attributes(v, what)
  return a === null ? null : attributesJson(a)
}

/** Attributes as the JSON text the SQL functions take, by the core's writer (the one every send uses). */
function attributesJson(a) {
  return callSync(() => native.outboxAttributesJson(a))
}

/** `sql.send(queue, body, options)`: one message, its body as queue.send() takes it. */
function sqlSend(queue, body, opts) {
  string(queue, 'queue name')
  const o = options(opts, 'send options')
  const [b, attrs] = encode(body, attributes(o.attributes, 'attributes'), null, 'message body')
  return outboxQuery('send', queue, b, attrs === null ? null : attributesJson(attrs), o)
}

/** `sql.sendJson(queue, value, options)`: one JSON value, stored as its text and labelled by the SQL function. */
function sqlSendJson(queue, value, opts) {
  string(queue, 'queue name')
  const o = options(opts, 'sendJson options')
  return outboxQuery('send_json', queue, jsonText(value, 'the value'), attributesText(o.attributes, 'attributes'), o)
}

/** `sql.sendBatch(queue, messages, options)`: the entries queue.sendBatch() takes. */
function sqlSendBatch(queue, messages, opts) {
  string(queue, 'queue name')
  if (!Array.isArray(messages)) throw new TypeError(`sendBatch takes an array of messages, got ${describe(messages)}`)
  const o = options(opts, 'sendBatch options')
  const bodies = new Array(messages.length)
  let attrs = null // null unless some message has attributes
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]
    let b = bytes(m)
    let a = null
    if (b === undefined) {
      if (isEnvelope(m) && positions(m.after, `messages[${i}].after`) !== null) {
        throw new InvalidOptionError('the transactional send (sql.*) takes no dependencies yet: send them with queue.sendBatch')
      }
      ;[b, a] = isEnvelope(m)
        ? encode(m.body, attributes(m.attributes, `messages[${i}].attributes`), null, `messages[${i}].body`)
        : encode(m, null, null, `messages[${i}]`)
    }
    bodies[i] = b
    if (a !== null) {
      if (attrs === null) attrs = new Array(messages.length).fill('{}')
      attrs[i] = attributesJson(a)
    }
  }
  return outboxQuery('send_batch', queue, bodies, attrs, o)
}

/** `sql.sendJsonBatch(queue, values, options)`: JSON values; `options.attributes`, if given, one entry per value. */
function sqlSendJsonBatch(queue, values, opts) {
  string(queue, 'queue name')
  if (!Array.isArray(values)) throw new TypeError(`sendJsonBatch takes an array of values, got ${describe(values)}`)
  const o = options(opts, 'sendJsonBatch options')
  const bodies = values.map((v, i) => jsonText(v, `values[${i}]`))
  let attrs = null
  if (o.attributes !== undefined && o.attributes !== null) {
    if (!Array.isArray(o.attributes)) {
      throw new TypeError(`sendJsonBatch's attributes must be an array (one entry per value), got ${describe(o.attributes)}`)
    }
    // A length that differs is the SQL function's invalid_option (nothing is sent), as in every language.
    attrs = o.attributes.map((a, i) => attributesText(a, `attributes[${i}]`) ?? '{}')
  }
  return outboxQuery('send_json_batch', queue, bodies, attrs, o)
}

/**
 * The pgmq error a driver's error stands for, when the database raised it with one of pgmq's SQLSTATEs
 * (node-postgres: `err.code`; Prisma: `err.meta.code`; a wrapper's `err.cause`); otherwise `err` itself.
 */
function sqlError(err) {
  for (let e = err, depth = 0; e !== null && typeof e === 'object' && depth < 8; e = e.cause, depth++) {
    if (e instanceof PgmqError) return e
    const meta = e.meta !== null && typeof e.meta === 'object' ? e.meta.code : undefined
    const state = typeof e.code === 'string' && Object.hasOwn(SQLSTATES, e.code) ? e.code : meta
    if (typeof state === 'string' && Object.hasOwn(SQLSTATES, state)) {
      const code = SQLSTATES[state]
      const Cls = ERROR_CLASSES[code] || PgmqError
      const text = typeof e.message === 'string' ? e.message : String(e)
      return new Cls(text.replace(/^pgmq: /, ''), code, { cause: err })
    }
  }
  return err
}

/**
 * Runs an outbox query on anything with node-postgres' `query(config)` (a Client, a PoolClient inside the
 * caller's transaction, a Pool) and resolves to the id, or the ids of a batch, as strings.
 */
async function sqlExecute(client, query) {
  if (client === null || (typeof client !== 'object' && typeof client !== 'function') || typeof client.query !== 'function') {
    throw new TypeError(`execute takes a node-postgres Client or PoolClient (anything with query()), got ${describe(client)}`)
  }
  if (!isPlainObject(query) || typeof query.text !== 'string' || !Array.isArray(query.values)) {
    throw new TypeError(`execute takes a query made by sql.send / sendJson / sendBatch / sendJsonBatch, got ${describe(query)}`)
  }
  let result
  try {
    result = await client.query(query)
  } catch (err) {
    throw sqlError(err)
  }
  const row = result && Array.isArray(result.rows) ? result.rows[0] : undefined
  if (row === undefined) throw new TypeError('execute: the query returned no row (was it made by sql.send?)')
  return Array.isArray(row) ? row[0] : Object.values(row)[0]
}

/** `import { sql } from 'pgmq'`: the transactional send (see index.d.ts). */
const sql = Object.freeze({
  send: sqlSend,
  sendJson: sqlSendJson,
  sendBatch: sqlSendBatch,
  sendJsonBatch: sqlSendJsonBatch,
  execute: sqlExecute,
  error: sqlError,
  SQLSTATES,
})

module.exports = {
  connect,
  setLogger,
  sql,
  getDlqName,
  DEFAULTS,
  ERROR_CODES,
  Outcome,
  MessageState,
  Attribute,
  Filter,
  jsonSerializer,
  CONTENT_TYPE_ATTRIBUTE,
  JSON_CONTENT_TYPE,
  MAX_FILTER_DEPTH: DEFAULTS.limits.maxFilterDepth,
  Client,
  Queue,
  Message,
  PeekedMessage,
  MessageStream,
  SentMessage,
  SentBatch,
  Reply,
  PgmqError,
  ...errorClasses,
}

// Test hook, not API (hidden: not enumerable, not typed): makes the addon panic in a synchronous call or
// in a task on its runtime (`inRuntime`), so tests can prove a panic becomes an InternalError.
Object.defineProperty(module.exports, '_panicForTests', {
  value: (inRuntime) => (inRuntime ? call(native.panicForTestsAsync()) : callSync(() => native.panicForTests())),
})

// Test hooks, not API (hidden the same way): the core's own rendering of its table of truths, and the
// error class of each code, which the tests compare with each other.
Object.defineProperty(module.exports, '_truthsJson', { value: () => native.truthsJson() })
Object.defineProperty(module.exports, '_errorClasses', { value: Object.freeze({ ...ERROR_CLASSES }) })
