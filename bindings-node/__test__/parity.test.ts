// Every public operation of the core's Client, Queue, Message, Receiver, Completion and SentMessage has
// its Node counterpart, or a stated reason why not. The core's list is read from its source (every
// `pub fn` / `pub async fn` of those types, but #[doc(hidden)] ones), so a new core operation fails this
// test until it is bound here or its absence is explained in CORE_TO_NODE.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import * as pgmq from 'pgmq'
import { client, freshQueue } from './helpers.ts'

const CORE_SRC = path.join(__dirname, '..', '..', 'core', 'src')
const TYPES = ['Client', 'Queue', 'Message', 'Receiver', 'Completion', 'SentMessage']
const T = { timeout: 30_000 }

/** `Type::fn` of every public method of TYPES in core/src (rustfmt layout: `impl T {` at column 0, methods at 4). */
function coreOperations(): string[] {
  const found: string[] = []
  for (const file of readdirSync(CORE_SRC).filter((f) => f.endsWith('.rs'))) {
    let current: string | null = null
    let hidden = false
    for (const line of readFileSync(path.join(CORE_SRC, file), 'utf8').split('\n')) {
      if (/^\S/.test(line)) {
        // Column 0: an `impl Type {` of one of TYPES starts, anything else (its closing brace) ends one.
        const impl = /^impl(?:<[^>]*>)? (\w+) \{/.exec(line)
        current = impl !== null && TYPES.includes(impl[1]) ? impl[1] : null
        hidden = false
      }
      if (current === null) continue
      if (/^ {4}#\[doc\(hidden\)\]/.test(line)) hidden = true
      const method = /^ {4}pub (?:async )?fn (\w+)/.exec(line)
      if (method !== null) {
        if (!hidden) found.push(`${current}::${method[1]}`)
        hidden = false
      } else if (!/^ {4}(#|\/\/\/)/.test(line)) {
        hidden = false
      }
    }
  }
  return found.sort()
}

/** Where a member lives in Node: a module export, or a member of a class (an instance of it for fields). */
type Node = { export: string } | { member: [NodeClass, string] }
type NodeClass = 'Client' | 'Queue' | 'Message' | 'MessageStream' | 'SentMessage' | 'SentBatch'
/** `pending`: bound by the change that adds it to the core; the test fails once it exists in Node (update this). */
type Entry = Node | { notBound: string } | { pending: [NodeClass, string] }

const CORE_TO_NODE: Record<string, Entry> = {
  'Client::connect': { export: 'connect' },
  'Client::connect_with': { export: 'connect' },
  'Client::migrate': { member: ['Client', 'migrate'] },
  'Client::schema_version': { member: ['Client', 'schemaVersion'] },
  'Client::create_queue': { member: ['Client', 'createQueue'] },
  'Client::delete_queue': { member: ['Client', 'deleteQueue'] },
  'Client::queue': { member: ['Client', 'queue'] },
  'Client::list_queues': { member: ['Client', 'listQueues'] },
  'Client::list_queues_with_stats': { pending: ['Client', 'listQueuesWithStats'] },
  'Client::redrive': { member: ['Client', 'redrive'] },
  'Client::close': { member: ['Client', 'close'] },
  'Client::is_closed': { member: ['Client', 'closed'] },
  'Queue::name': { member: ['Queue', 'name'] },
  'Queue::client': { notBound: 'JS code holds the Client it made the queue with' },
  'Queue::send': { member: ['Queue', 'send'] },
  'Queue::send_batch': { member: ['Queue', 'sendBatch'] },
  'Queue::receiver': { member: ['Queue', 'receive'] },
  'Queue::cancel': { member: ['Queue', 'cancel'] },
  'Queue::peek': { pending: ['Queue', 'peek'] },
  'Queue::purge': { pending: ['Queue', 'purge'] },
  'Queue::stats': { member: ['Queue', 'stats'] },
  'Queue::completion': { member: ['Queue', 'waitForCompletion'] },
  'Queue::wait_for_completion': { member: ['Queue', 'waitForCompletion'] },
  'Message::id': { member: ['Message', 'id'] },
  'Message::queue': { member: ['Message', 'queue'] },
  'Message::body': { member: ['Message', 'body'] },
  'Message::take_body': { notBound: 'body is a Buffer handed over without a copy' },
  'Message::attributes': { member: ['Message', 'attributes'] },
  'Message::delivery_attempt': { member: ['Message', 'deliveryAttempt'] },
  'Message::sent_at': { member: ['Message', 'sentAt'] },
  'Message::last_error': { member: ['Message', 'lastError'] },
  'Message::dead_letter_attempts': { member: ['Message', 'deadLetterAttempts'] },
  'Message::lease_token': { member: ['Message', 'leaseToken'] },
  'Message::is_cancelled': { member: ['Message', 'cancelled'] },
  'Message::cancelled': { member: ['Message', 'cancelled'] },
  'Message::is_lease_lost': { member: ['Message', 'leaseLost'] },
  'Message::is_finished': { member: ['Message', 'finished'] },
  'Message::ack': { member: ['Message', 'ack'] },
  'Message::nack': { member: ['Message', 'nack'] },
  'Message::extend': { member: ['Message', 'extend'] },
  'Receiver::queue': { notBound: 'a MessageStream is made by its Queue' },
  'Receiver::next': { member: ['MessageStream', 'next'] },
  'Receiver::next_batch': { member: ['MessageStream', 'next'] }, // batchSize: one claim, yielded one by one
  'Receiver::close': { member: ['MessageStream', 'close'] },
  'Receiver::is_closed': { member: ['MessageStream', 'closed'] },
  'Completion::ids': { member: ['SentBatch', 'ids'] },
  'Completion::is_tracked': { member: ['SentBatch', 'tracked'] },
  'Completion::with_poll_interval': { notBound: 'Node waits with the core\'s default safety-net interval' },
  'Completion::wait': { member: ['SentBatch', 'completed'] },
  'SentMessage::id': { member: ['SentMessage', 'id'] },
  'SentMessage::wait': { member: ['SentMessage', 'completed'] },
  'SentMessage::completion': { notBound: 'a Rust borrow: SentMessage has tracked and completed() itself' },
  'SentMessage::into_completion': { notBound: 'a Rust move: SentMessage has tracked and completed() itself' },
}

test('every public core operation has a Node counterpart or a stated reason', T, async () => {
  const operations = coreOperations()
  assert.ok(operations.length > 40, `read only ${operations.length} operations from ${CORE_SRC}`)
  const unmapped = operations.filter((op) => !(op in CORE_TO_NODE))
  assert.deepEqual(unmapped, [], 'core operations without a Node counterpart: bind them, or say why in CORE_TO_NODE')
  const gone = Object.keys(CORE_TO_NODE).filter((op) => !operations.includes(op))
  assert.deepEqual(gone, [], 'CORE_TO_NODE names operations the core no longer has')

  // Instances of every class, for the members set per instance (Message fields, SentMessage.id).
  await using c = await client()
  const q = c.queue(await freshQueue(c))
  const sent = await q.send('x')
  const batch = await q.sendBatch(['y'])
  const stream = q.receive()
  const message = (await stream.next()).value as pgmq.Message
  const instances: Record<NodeClass, object> = {
    Client: c,
    Queue: q,
    Message: message,
    MessageStream: stream,
    SentMessage: sent,
    SentBatch: batch,
  }
  const has = ([cls, member]: [NodeClass, string]) => member in instances[cls]
  for (const [op, entry] of Object.entries(CORE_TO_NODE)) {
    if ('export' in entry) assert.ok(entry.export in pgmq, `${op}: pgmq.${entry.export} is missing`)
    if ('member' in entry) assert.ok(has(entry.member), `${op}: ${entry.member.join('.')} is missing`)
    if ('pending' in entry) {
      assert.ok(!has(entry.pending), `${op}: ${entry.pending.join('.')} exists now: map it in CORE_TO_NODE`)
    }
  }
  await message.ack()
  stream.close()
})
