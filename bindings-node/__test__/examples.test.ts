// The README's Node examples cannot rot: every ```ts block of its "## Node" section is written to
// target/node-readme/, type-checked with the package's own tsconfig (tsc --strict, which also checks the
// test suites) and run against the test database, and what it prints is checked.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { dsn } from './helpers.ts'

const run = promisify(execFile)
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const outDir = join(root, 'target', 'node-readme')

function nodeBlocks(): string[] {
  const readme = readFileSync(join(root, 'README.md'), 'utf8')
  const start = readme.indexOf('\n## Node\n')
  const end = readme.indexOf('\n## ', start + 1)
  assert.ok(start >= 0 && end > start, 'README has a "## Node" section')
  const blocks = [...readme.slice(start, end).matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1])
  assert.ok(blocks.length >= 2, 'the Node section has its examples')
  return blocks
}

const blocks = nodeBlocks()
mkdirSync(outDir, { recursive: true })
const files = blocks.map((code, i) => {
  const file = join(outDir, `block-${i + 1}.mts`)
  writeFileSync(file, `// Extracted from README.md by bindings-node/__test__/examples.test.ts\n${code}`)
  return file
})

test('the package, its tests and the README examples type-check with tsc --strict', async () => {
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')
  try {
    await run(process.execPath, [tsc, '-p', join(root, 'bindings-node', 'tsconfig.json')], { cwd: root })
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string }
    assert.fail(`tsc failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`)
  }
})

async function runBlock(file: string): Promise<string> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', file], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: dsn() },
    timeout: 60_000,
  })
  return stdout
}

test('README quick start runs and prints the outcome', async () => {
  const out = await runBlock(files[0])
  assert.match(out, /^processing \{"resize": 42\} \{ kind: 'resize' \} 1$/m)
  assert.match(out, /^completed$/m)
})

test('README workers example runs: retries, dead letters, filters, cancel', async () => {
  const out = (await runBlock(files[1])).split('\n')
  const outcomes = out.findIndex((l) => l.startsWith('{'))
  const summary = out.slice(outcomes, out.findIndex((l, i) => i > outcomes && l.startsWith('}')) + 1).join('\n')
  assert.equal((summary.match(/'completed'/g) ?? []).length, 2, summary)
  assert.equal((summary.match(/'dead_lettered'/g) ?? []).length, 1, summary)
  assert.ok(out.includes('fail Error: cannot do this one 2'), out.join('\n'))
  assert.ok(out.includes('true false'), out.join('\n'))
  assert.ok(out.some((l) => /^\[ '[0-9a-f-]{36}' \] cancelled$/.test(l)), out.join('\n'))
  assert.ok(out.some((l) => l.includes('messages: 0, ready: 0, scheduled: 0, leased: 0, deadLettered: 0')), out.join('\n'))
})
