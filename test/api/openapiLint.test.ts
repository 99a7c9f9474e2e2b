/**
 * The document /openapi.json serves, linted by Redocly's `recommended` ruleset (the one its
 * CLI applies by default): no error and no warning. Anything it reports is printed with
 * the rule and where, so a new route that slips gets named.
 */
import assert from 'node:assert/strict';
import { createConfig, lintFromString, type NormalizedProblem } from '@redocly/openapi-core';
import request from 'supertest';
import { testApp } from '../support/api.ts';

function described(problem: NormalizedProblem): string {
  const where = problem.location.map((location) => location.pointer).join(', ');
  return `${problem.severity} ${problem.ruleId} at ${where}: ${problem.message}`;
}

describe('OpenAPI lint', () => {
  it('the served document passes Redocly\'s recommended rules with no error and no warning', async () => {
    const served = await request(testApp().app).get('/openapi.json').expect(200);
    const config = await createConfig({ extends: ['recommended'] });
    const problems = await lintFromString({ source: served.text, absoluteRef: '/openapi.json', config });
    const reported = problems.map(described);
    assert.deepEqual(reported, [], `the linter reports ${reported.length}:\n  ${reported.join('\n  ')}`);
  });
});
