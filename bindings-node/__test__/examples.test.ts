// The Node examples cannot rot: every ```ts block of every Markdown file (README.md, the package READMEs,
// docs/*.md) and every program in examples/node is written to target/node-readme/, type-checked with the
// package's own tsconfig (tsc --strict, which also checks the test suites) and run against the test
// database, and what it prints is checked. A block whose first line is `// not run` is skipped.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { basename, dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { client, dsn } from './helpers.ts'

const run = promisify(execFile)
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const outDir = join(root, 'target', 'node-readme')
const examplesDir = join(root, 'examples', 'node')

/** The Markdown files that may carry ```ts blocks; those in EXPECT_TS must carry at least one. */
function docFiles(): string[] {
  const packages = readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory() && !d.name.startsWith('.') && d.name !== 'node_modules' && d.name !== 'target')
    .map((d) => join(d.name, 'README.md'))
  const docs = readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join('docs', f))
  return ['README.md', ...docs, ...packages].filter((f) => existsSync(join(root, f))).sort()
}
const EXPECT_TS = ['README.md', 'bindings-node/README.md', 'docs/errors.md']

/** The ```ts blocks of a Markdown text, without those whose first line is `// not run`. */
function tsBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```(?:ts|typescript)[ \t]*\n([\s\S]*?)^```[ \t]*$/gm)]
    .map((m) => m[1])
    .filter((code) => !code.trimStart().toLowerCase().startsWith('// not run'))
}

/** The lines under `// Output:` at the top of an example, which it must print. */
function expectedOutput(source: string): string[] {
  const m = source.match(/^\/\/ Output:\n((?:\/\/ {3}.*\n)+)/m)
  assert.ok(m, 'the example has no `// Output:` comment')
  return m[1].split('\n').filter((l) => l).map((l) => l.slice(2).trim())
}

/** Queues a program creates by a literal name: deleted before (a rerun) and after it runs. */
function queuesIn(code: string): string[] {
  return [...code.matchAll(/createQueue\(\s*'([A-Za-z0-9_-]+)'/g)].map((m) => m[1])
}

async function deleteQueues(names: string[]): Promise<void> {
  if (names.length === 0) return
  await using c = await client()
  for (const name of names) await c.deleteQueue(name)
}

// ---- write every block and example where tsc (bindings-node/tsconfig.json) and tsx find them

rmSync(outDir, { recursive: true, force: true })
mkdirSync(outDir, { recursive: true })
const docs = docFiles().map((file) => {
  const blocks = tsBlocks(readFileSync(join(root, file), 'utf8')).map((code, i) => {
    const path = join(outDir, `${file.replace(/[/.]/g, '_')}-${i + 1}.mts`)
    writeFileSync(path, `// Extracted from ${file} by bindings-node/__test__/examples.test.ts\n${code}`)
    return { code, path }
  })
  return { file, blocks }
})
const examples = readdirSync(examplesDir)
  .filter((f) => f.endsWith('.mts'))
  .sort()
  .map((name) => {
    const source = readFileSync(join(examplesDir, name), 'utf8')
    writeFileSync(join(outDir, `example-${name}`), `// Copied from examples/node/${name} by examples.test.ts\n${source}`)
    return { name, source, path: join(examplesDir, name) }
  })

async function runFile(file: string): Promise<string> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', file], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: dsn() },
    timeout: 60_000,
  })
  return stdout
}

async function runProgram(code: string, file: string): Promise<string> {
  await deleteQueues(queuesIn(code))
  try {
    return await runFile(file)
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string }
    assert.fail(`${relative(root, file)} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`)
  } finally {
    await deleteQueues(queuesIn(code))
  }
}

// What some blocks print, by a queue name they use; every other block only has to exit 0.
const BLOCK_OUTPUT: Record<string, RegExp[]> = {
  'readme-node-quick': [/^resize image 42$/m, /^completed$/m],
  'readme-node': [/^processing \{"resize": 42\} \{ kind: 'resize' \} 1$/m, /^completed$/m],
  'readme-node-work': [/'completed'/, /'dead_lettered'/, /^1$/m],
  'readme-node-json': [/^cat\.png 640 application\/json$/m],
  'readme-node-ops': [
    /^ready \{ order: 1 \} payment service down$/m,
    /^readme-node-ops 1 true$/m,
    /^dlq@readme-node-ops 1 true$/m,
    /^1\n2$/m,
  ],
  'errors-node-missing': [/^queue_not_found$/m],
  'replies-node': [/^completed 5$/m, /^request_failed dead_lettered$/m],
  'readme-node-request': [/^completed \{ thumbnail: 'thumbs\/cat\.png' \}$/m],
  'bounded-node': [/^dropped: queue_full$/m, /^2$/m],
  'groups-node-resize': [/^101 to go, 0 done$/m, /^1$/m, /^101 Set\(1\) \{ 'cancelled' \}$/m],
  'readme-node-groups': [/^\[ 'completed', 'completed', 'completed' \]$/m],
  'readme-node-deps': [/^running download\nrunning resize\nrunning publish\ncompleted$/m],
  'dependencies-node-steps': [
    /^1$/m,
    /^\[ 'waiting', 'waiting' \]$/m,
    /^ran fetch\n(?:ran (?:parse|thumbnail)\n){2}ran report$/m,
    /^cancelled: dependency [0-9a-f-]{36} was dead_lettered$/m,
  ],
}

test('every Markdown file expected to carry ts blocks has them, and every example states its output', () => {
  const carrying = docs.filter((d) => d.blocks.length > 0).map((d) => d.file)
  for (const file of EXPECT_TS) assert.ok(carrying.includes(file), `${file} has no runnable \`\`\`ts block`)
  assert.deepEqual(
    examples.map((e) => e.name),
    ['cancel.mts', 'completion.mts', 'filters.mts', 'outbox.mts', 'request.mts', 'seed.mts', 'worker.mts'],
  )
  for (const e of examples) assert.ok(expectedOutput(e.source).length > 0, e.name)
})

test('the package, its tests, the Markdown blocks and the examples type-check with tsc --strict', async () => {
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')
  try {
    await run(process.execPath, [tsc, '-p', join(root, 'bindings-node', 'tsconfig.json')], { cwd: root })
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string }
    assert.fail(`tsc failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`)
  }
})

for (const { file, blocks } of docs.filter((d) => d.blocks.length > 0)) {
  test(`${file}: every ts block runs`, async () => {
    for (const block of blocks) {
      const out = await runProgram(block.code, block.path)
      for (const [name, expected] of Object.entries(BLOCK_OUTPUT)) {
        if (!block.code.includes(`'${name}'`)) continue
        for (const line of expected) assert.match(out, line, `${basename(block.path)}:\n${out}`)
      }
    }
  })
}

for (const example of examples) {
  test(`examples/node/${example.name} prints its stated output`, async () => {
    const out = await runProgram(example.source, example.path)
    const lines = out.split('\n').map((l) => l.trim()).filter((l) => l)
    assert.deepEqual(lines, expectedOutput(example.source))
  })
}

test('the ts block extractor skips blocks marked not run', () => {
  const markdown = "```ts\nconsole.log('a')\n```\n```ts\n// not run\nimport x from 'nothing'\n```\n```sh\nls\n```\n"

  assert.deepEqual(tsBlocks(markdown), ["console.log('a')\n"])
})
