// Shared by the node:test suites: the database, unique queue names, and waiting on events.
import { randomUUID } from 'node:crypto'
import { connect, type Client, type QueueOptions } from 'pgmq'

/** The cluster every test runs against (`make test` starts a throwaway one). */
export function dsn(): string {
  const url = process.env.DATABASE_URL
  if (!url) throw new Error('DATABASE_URL is not set: run the tests through `make test`')
  return url
}

/** A connected, migrated client; close it with `await using` or `client.close()`. */
export async function client(): Promise<Client> {
  const c = await connect(dsn())
  await c.migrate()
  return c
}

/** A unique queue name (suites run in parallel on one cluster). */
export function uniqueName(prefix = 'node'): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`
}

/** Creates a fresh queue with a unique name and returns the name. */
export async function freshQueue(c: Client, options: QueueOptions = {}, prefix = 'node'): Promise<string> {
  const name = uniqueName(prefix)
  await c.createQueue(name, options)
  return name
}

/** Polls `check` (a database read, not a timer) until it is true, or fails after `timeoutMs`. */
export async function until(check: () => Promise<boolean> | boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await check()) return
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}
