// One table of truths: every default and limit the package shows, its error classes and its names are the
// Rust core's (`pgmq_core::DEFAULTS`, `ERROR_CODES`, `Outcome::ALL`, `MessageState::ALL`), compared here with
// the core's own rendering of them (`truths_json()`, through the hidden `_truthsJson` hook); index.d.ts states
// the same values in words, and docs/errors.md's Node column names the class of each code.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import * as pgmq from 'pgmq'
import { DEFAULTS, ERROR_CODES, MessageState, Outcome, PgmqError, HandleError } from 'pgmq'

type Json = Record<string, any>
// Hidden (not enumerable, not typed), so read from the module object itself rather than an import of it.
const hooks = createRequire(path.join(__dirname, 'truths.test.ts'))('pgmq') as {
  _truthsJson(): string
  _errorClasses: Record<string, typeof PgmqError>
}
const TRUTHS: Json = JSON.parse(hooks._truthsJson())
const D = TRUTHS.defaults
const ROOT = path.join(__dirname, '..', '..')
const DTS = readFileSync(path.join(__dirname, '..', 'index.d.ts'), 'utf8')

/** `ack_deadline_ms` -> `ackDeadlineMs`. */
function camel(snake: string): string {
  return snake.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())
}

function camelKeys(section: Json): Json {
  return Object.fromEntries(Object.entries(section).map(([k, v]) => [camel(k), v]))
}

test('DEFAULTS is the core\'s table: every default and limit, under its JS name', () => {
  const expected = Object.fromEntries(Object.entries(D).map(([name, section]) => [camel(name), camelKeys(section as Json)]))
  expected.limits = camelKeys(TRUTHS.limits)
  expected.conventions = camelKeys(TRUTHS.conventions)

  assert.deepEqual(DEFAULTS, expected)
  assert.ok(Object.isFrozen(DEFAULTS) && Object.isFrozen(DEFAULTS.queue), 'DEFAULTS is frozen')
})

test('the constants the package exports are the core\'s', () => {
  assert.equal(pgmq.MAX_FILTER_DEPTH, TRUTHS.limits.max_filter_depth)
  assert.equal(pgmq.CONTENT_TYPE_ATTRIBUTE, TRUTHS.conventions.content_type_attribute)
  assert.equal(pgmq.JSON_CONTENT_TYPE, TRUTHS.conventions.json_content_type)
  assert.equal(pgmq.getDlqName('jobs'), `${TRUTHS.conventions.dlq_prefix}jobs`)
  assert.equal(pgmq.jsonSerializer.contentType, TRUTHS.conventions.json_content_type)
})

test('the error classes cover exactly the core\'s codes, each class carrying its code', () => {
  const classes = hooks._errorClasses
  const coreCodes: string[] = TRUTHS.error_codes.map((e: Json) => e.code)
  const exported = Object.values(pgmq).filter(
    (v): v is typeof PgmqError => typeof v === 'function' && v.prototype instanceof PgmqError,
  )
  // Each class's `code` is its code; HandleError is one class for two misuses of a handle.
  const wrongCode = Object.entries(classes).filter(([code, cls]) => cls.code !== code && cls !== HandleError)

  assert.deepEqual(Object.keys(classes).sort(), [...coreCodes].sort())
  assert.deepEqual(wrongCode, [])
  assert.deepEqual([classes.already_finished, classes.not_tracked], [HandleError, HandleError])
  assert.deepEqual(new Set(exported), new Set(Object.values(classes)), 'every exported error class has a code, and is exported')
  for (const [code, cls] of Object.entries(classes)) {
    assert.equal((pgmq as Record<string, unknown>)[cls.name], cls, `${code}: ${cls.name} is exported by its name`)
  }
  assert.deepEqual(ERROR_CODES, TRUTHS.error_codes)
})

test('an error of each code is its class, with the core\'s code and transience', () => {
  for (const row of TRUTHS.error_codes as Json[]) {
    const Cls = hooks._errorClasses[row.code]

    const error = new Cls('what happened', row.code)

    assert.ok(error instanceof PgmqError && error instanceof Error)
    assert.deepEqual([error.code, error.transient, error.message, error.name], [row.code, row.transient, 'what happened', Cls.name])
  }
  const unknown = new PgmqError('from a newer core', 'some_new_code')
  assert.deepEqual([unknown.code, unknown.transient], ['some_new_code', false])
})

test('sql.SQLSTATES is the core\'s map of SQLSTATEs, each to one of its codes, which sql.error gives the class of', () => {
  const codes = TRUTHS.error_codes.map((e: Json) => e.code)

  assert.deepEqual(pgmq.sql.SQLSTATES, TRUTHS.sqlstates)
  assert.ok(Object.keys(TRUTHS.sqlstates).length > 0, 'the core names no SQLSTATE')
  assert.ok(Object.isFrozen(pgmq.sql.SQLSTATES))
  for (const [state, code] of Object.entries(pgmq.sql.SQLSTATES)) {
    assert.ok(codes.includes(code), `${state}: ${code} is no code of the core`)
    const err = pgmq.sql.error(Object.assign(new Error('pgmq: refused'), { code: state }))
    assert.ok(err instanceof hooks._errorClasses[code], `${state}: ${err}`)
    assert.deepEqual([(err as PgmqError).code, (err as PgmqError).message], [code, 'refused'])
  }
})

test('Outcome and MessageState are the core\'s names, and index.d.ts types them alike', () => {
  const union = (name: string) => {
    const m = new RegExp(`^export type ${name} = (.*)$`, 'm').exec(DTS)
    assert.ok(m, `index.d.ts has no type ${name}`)
    return [...m[1].matchAll(/'([a-z_]+)'/g)].map((x) => x[1])
  }

  assert.deepEqual(Object.values(Outcome), TRUTHS.outcomes)
  assert.deepEqual(Object.values(MessageState), TRUTHS.message_states)
  assert.deepEqual(Outcome.DeadLettered, 'dead_lettered')
  assert.deepEqual(MessageState.Lapsed, 'lapsed')
  assert.deepEqual(union('Outcome'), TRUTHS.outcomes)
  assert.deepEqual(union('MessageState'), TRUTHS.message_states)
})

test('index.d.ts: ErrorCode lists the core\'s codes (and cancelled, the reason of message.cancelled)', () => {
  const block = /^export type ErrorCode =\n((?:\s+\| '[a-z_]+'\n)+)/m.exec(DTS)
  assert.ok(block, 'index.d.ts has no ErrorCode union')
  const listed = [...block[1].matchAll(/'([a-z_]+)'/g)].map((m) => m[1])

  assert.deepEqual(listed.sort(), [...TRUTHS.error_codes.map((e: Json) => e.code), 'cancelled'].sort())
})

test('index.d.ts: the Defaults interface names every section and field of DEFAULTS', () => {
  const start = DTS.indexOf('export interface Defaults {')
  const body = DTS.slice(start, DTS.indexOf('\n}\n', start))
  const typed: Record<string, string[]> = {}
  let section = ''
  for (const line of body.split('\n')) {
    const open = /^ {2}readonly (\w+): \{$/.exec(line)
    if (open) typed[(section = open[1])] = []
    const field = /^ {4}readonly (\w+): /.exec(line)
    if (field) typed[section].push(field[1])
  }

  const sorted = (table: Record<string, string[]>) =>
    Object.fromEntries(Object.entries(table).map(([k, fields]) => [k, [...fields].sort()]).sort())
  const actual = Object.fromEntries(Object.entries(DEFAULTS).map(([k, v]) => [k, Object.keys(v)]))
  assert.deepEqual(sorted(typed), sorted(actual))
})

// ---- the defaults index.d.ts states in words

/** 10 000 (grouped from five digits, as the docs write numbers), 1000, 100. */
function n(value: number): string {
  return value >= 10_000 ? value.toLocaleString('en-US').replace(/,/g, ' ') : String(value)
}
const seconds = (ms: number) => `${ms / 1000} s`
const minutes = (ms: number) => `${ms / 60_000} minutes`
const days = (ms: number) => `${ms / 86_400_000} days`

/** The doc comment of `member` of interface or class `owner` in index.d.ts (of `owner` itself without a member), on one line. */
function docOf(owner: string, member?: string): string {
  const lines = DTS.split('\n')
  const decl = lines.findIndex((l) => new RegExp(`^export (?:declare )?(?:interface|class|const|function) ${owner}\\b`).test(l))
  assert.ok(decl >= 0, `index.d.ts declares no ${owner}`)
  let at = decl
  if (member !== undefined) {
    at = lines.findIndex((l, i) => i > decl && new RegExp(`^\\s+(?:readonly |get )?${member}\\??[:(<]`).test(l))
    assert.ok(at > decl, `${owner} has no member ${member}`)
  }
  let start = at - 1
  while (start >= 0 && !lines[start].includes('/**')) start--
  return lines.slice(start, at).join(' ').replace(/\s*\*\s*/g, ' ').replace(/\s+/g, ' ')
}

// Where index.d.ts states a default or a limit of the core: [owner, member, the words it must contain].
const STATED: [string, string | undefined, string][] = [
  ['ConnectOptions', 'poolSize', `default ${n(D.client.pool_size)})`],
  ['ConnectOptions', 'connectTimeoutMs', `default ${n(D.client.connect_timeout_ms)})`],
  ['ConnectOptions', 'statementTimeoutMs', `default ${n(D.client.statement_timeout_ms)};`],
  ['ConnectOptions', 'connectRetryMs', `default ${n(D.client.connect_retry_ms)}: fail at once`],
  ['ConnectOptions', 'applicationName', `default \`'${D.client.application_name_prefix}node'\``],
  ['ConnectOptions', 'schema', `default \`'${D.client.schema}'\``],
  ['ConnectOptions', 'maintenanceIntervalMs', `default ${n(D.client.maintenance_interval_ms)})`],
  ['QueueOptions', 'ackDeadlineMs', `(>= ${n(TRUTHS.limits.min_ack_deadline_ms)}; default ${n(D.queue.ack_deadline_ms)})`],
  ['QueueOptions', 'maxDeliveryAttempts', `default ${D.queue.max_delivery_attempts})`],
  ['QueueOptions', 'retentionPeriodMs', `default ${days(D.queue.retention_period_ms)})`],
  ['DeadLetterQueueOptions', 'ackDeadlineMs', `(>= ${n(TRUTHS.limits.min_ack_deadline_ms)}; default ${n(D.dead_letter_queue.ack_deadline_ms)})`],
  ['DeadLetterQueueOptions', 'maxDeliveryAttempts', `default ${D.dead_letter_queue.max_delivery_attempts})`],
  ['DeadLetterQueueOptions', 'retentionPeriodMs', `default ${days(D.dead_letter_queue.retention_period_ms)})`],
  ['BackoffOptions', undefined, `\`backoff: {}\` is ${seconds(D.backoff.base_ms)} doubling up to ${minutes(D.backoff.max_ms)}`],
  ['BackoffOptions', 'baseMs', `default ${n(D.backoff.base_ms)})`],
  ['BackoffOptions', 'factor', `default ${D.backoff.factor})`],
  ['BackoffOptions', 'maxMs', `default ${minutes(D.backoff.max_ms)})`],
  ['BackoffOptions', 'jitter', `default ${D.backoff.jitter})`],
  ['SendOptions', 'track', `default ${D.send.track})`],
  ['SendOptions', 'waitForRoomMs', `(default ${n(D.send.wait_for_room_ms)})`],
  ['SendOptions', 'group', `1 to ${TRUTHS.limits.max_group_len} bytes of UTF-8 (\`DEFAULTS.limits.maxGroupLen\`)`],
  ['SendOptions', 'dependsOn', `more than ${n(TRUTHS.limits.max_dependencies)} dependencies for one message (\`DEFAULTS.limits.maxDependencies\``],
  ['RequestOptions', 'timeoutMs', `(> 0; default ${n(D.request.timeout_ms)})`],
  ['ReceiveOptions', 'batchSize', `default ${D.receive.batch_size})`],
  ['ReceiveOptions', 'pollIntervalMs', `default ${n(D.receive.poll_interval_ms)})`],
  ['ProcessOptions', 'pollIntervalMs', `default ${n(D.receive.poll_interval_ms)})`],
  ['PeekOptions', 'limit', `from 1 to ${n(D.peek.max_limit)}; default ${D.peek.limit})`],
  ['Client', 'migrate', `after waiting ${seconds(TRUTHS.limits.migrate_lock_timeout_ms)} for a lock`],
  ['PgmqTimeoutError', undefined, `sets ${seconds(TRUTHS.limits.migrate_lock_timeout_ms)} for its own transaction`],
  ['InvalidQueueNameError', undefined, `longer than ${TRUTHS.limits.max_queue_name_len} characters`],
  ['Filter', undefined, `nest at most {@link MAX_FILTER_DEPTH} (${TRUTHS.limits.max_filter_depth})`],
  ['MAX_FILTER_DEPTH', undefined, `the core's limit (${TRUTHS.limits.max_filter_depth})`],
  ['Defaults', undefined, 'DEFAULTS.queue.ackDeadlineMs, DEFAULTS.peek.maxLimit) // ' +
    `${D.queue.ack_deadline_ms} ${D.peek.max_limit}`],
]

// Defaults index.d.ts states that are Node's own, not the core's, and why.
const NODE_OWN: [string, string, string, string][] = [
  ['ProcessOptions', 'concurrency', 'default 10)', 'how many handlers process() runs at once: a Node loop, no core option'],
  ['ConnectOptions', 'poolSize', 'from 1 to 10 000;', 'the core has no upper bound, but reserves a slot per connection up front'],
]

for (const [owner, member, words] of STATED) {
  test(`index.d.ts ${owner}${member ? `.${member}` : ''} states the core's value: ${words}`, () => {
    assert.ok(docOf(owner, member).includes(words), `${JSON.stringify(words)} is not in: ${docOf(owner, member)}`)
  })
}

test('index.d.ts states Node\'s own defaults where it says so (they are no value of the core\'s table)', () => {
  for (const [owner, member, words, why] of NODE_OWN) {
    assert.ok(docOf(owner, member).includes(words), `${owner}.${member}: ${words} (${why})`)
  }
})

// ---- docs/errors.md

/** The rows of the Markdown table between `<!-- generated: NAME -->` and `<!-- end -->`, by header. */
function generatedTable(text: string, name: string): Record<string, string>[] {
  const start = text.indexOf(`<!-- generated: ${name} -->`)
  assert.ok(start >= 0, `no generated table ${name}`)
  const rows = text.slice(start, text.indexOf('<!-- end -->', start)).split('\n').filter((l) => l.startsWith('|'))
  const cells = (line: string) => line.trim().replace(/^\||\|$/g, '').split('|').map((c) => c.trim())
  const header = cells(rows[0])
  return rows.slice(2).map((row) => Object.fromEntries(cells(row).map((c, i) => [header[i], c])))
}

test('docs/errors.md names, for each code, the Node class that has it', () => {
  const rows = generatedTable(readFileSync(path.join(ROOT, 'docs', 'errors.md'), 'utf8'), 'error-codes')
  const wrong: string[] = []

  for (const row of rows) {
    const code = row.code.replace(/`/g, '')
    const named = /^`(\w+)`$/.exec(row.Node)
    const cls = hooks._errorClasses[code]
    if (!named || !cls || named[1] !== cls.name) wrong.push(`${code}: the docs say ${row.Node}, Node has ${cls?.name}`)
  }

  assert.deepEqual(rows.map((r) => r.code.replace(/`/g, '')).sort(), TRUTHS.error_codes.map((e: Json) => e.code).sort())
  assert.deepEqual(wrong, [])
})
