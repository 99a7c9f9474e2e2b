import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { DomainError, FAILURE_DETAIL } from '../../src/errors.ts';
import { problemOf, statusOfCode } from '../../src/http/problem.ts';

const srcDir = fileURLToPath(new URL('../../src/', import.meta.url));

/** Every code src raises by name: `new DomainError('code', ...` and `super('code', ...` of its subclasses. */
async function codesRaised(): Promise<Set<string>> {
  const files = (await readdir(srcDir, { recursive: true })).filter((file) => file.endsWith('.ts'));
  const codes = new Set<string>();
  for (const file of files) {
    const text = await readFile(`${srcDir}${file}`, 'utf8');
    for (const match of text.matchAll(/(?:new DomainError|super)\(\s*'([a-z_]+)'/g)) codes.add(match[1]!);
  }
  return codes;
}

describe('result codes and HTTP statuses', () => {
  it('the one table maps every code raised and every failure an operation stores', async () => {
    const codes = [...(await codesRaised()), ...Object.keys(FAILURE_DETAIL)];
    assert.ok(codes.length > 40, `only ${codes.length} codes found: the scan is broken`);
    assert.deepEqual(codes.filter((code) => statusOfCode(code) === undefined), []);
  });

  it('answers a code missing from the table as a bare 500 that leaks nothing', () => {
    const problem = problemOf(new DomainError('no_such_code', 'secret detail', { secret: 1 }));
    assert.equal(problem.status, 500);
    assert.equal(problem.body.code, 'internal_error');
    assert.ok(!JSON.stringify(problem.body).includes('secret'));
  });

  it('keeps the status and body of a failure as stored answers have them', () => {
    const problem = problemOf(new DomainError('bank_unavailable', FAILURE_DETAIL.bank_unavailable!, { operationId: 'op_1' }));
    assert.deepEqual(problem, {
      status: 503,
      body: {
        type: 'https://moneyfund.example/problems/bank_unavailable',
        title: 'Service Unavailable',
        status: 503,
        code: 'bank_unavailable',
        detail: FAILURE_DETAIL.bank_unavailable,
        operationId: 'op_1',
      },
    });
  });
});
