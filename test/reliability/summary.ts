import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { loadCorpus } from './cases.js';
import { FAULTS } from './faults-plan.js';
import type { CaseRecord, FaultRecord, OutcomeRecord } from './outcomes.js';

/**
 * Global setup of `npm run test:reliability`: a folder where every case and fault records its
 * outcome, and at the end one summary line computed from those records, e.g.
 *
 *   bad inputs: 77 tried, 77 handled as specified, 0 rows lost; faults: 6 injected, 6 recovered
 *
 * A case counts as handled when it passed on every database it ran on. The run fails when a
 * case of cases.yaml did not run or was not handled, a row was lost, or a planned fault was not
 * injected or not recovered from.
 */

function readRecords(dir: string): OutcomeRecord[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.filter((n) => n.endsWith('.json')).map((n) => JSON.parse(readFileSync(join(dir, n), 'utf8')) as OutcomeRecord);
}

export interface ReliabilitySummary {
  readonly line: string;
  readonly problems: readonly string[];
}

export function summarise(records: readonly OutcomeRecord[], caseIds: readonly string[], faultIds: readonly string[] = []): ReliabilitySummary {
  const cases = records.filter((r): r is CaseRecord => r.type === 'case');
  const faults = records.filter((r): r is FaultRecord => r.type === 'fault');
  const databases = new Set(cases.map((r) => r.database));
  const byCase = new Map<string, CaseRecord[]>();
  for (const r of cases) byCase.set(r.id, [...(byCase.get(r.id) ?? []), r]);

  const problems: string[] = [];
  let handled = 0;
  for (const [id, runs] of byCase) {
    const complete = [...databases].every((d) => runs.some((r) => r.database === d));
    if (complete && runs.every((r) => r.handled)) handled++;
    else {
      for (const r of runs.filter((x) => !x.handled)) problems.push(`case ${id} [${r.database}] was not handled as specified: ${r.detail ?? ''}`);
      if (!complete) problems.push(`case ${id} did not run on every database (${[...databases].join(', ')})`);
    }
  }
  const notRun = caseIds.filter((id) => !byCase.has(id));
  if (notRun.length > 0) problems.push(`${notRun.length} case(s) of cases.yaml did not run: ${notRun.join(', ')}`);
  const unknown = [...byCase.keys()].filter((id) => !caseIds.includes(id));
  if (unknown.length > 0) problems.push(`outcomes of cases not in cases.yaml: ${unknown.join(', ')}`);
  const caseLost = cases.reduce((n, r) => n + r.lost, 0);
  const faultLost = faults.reduce((n, r) => n + r.lost, 0);
  const lost = caseLost + faultLost;
  if (lost > 0) {
    const where = [...cases.filter((r) => r.lost > 0).map((r) => `${r.id} [${r.database}] ${r.lost}`), ...faults.filter((r) => r.lost > 0).map((r) => `fault ${r.id} ${r.lost}`)];
    problems.push(`${lost} row(s) lost: ${where.join(', ')}`);
  }

  const injected = faults.filter((f) => f.injected).length;
  const recovered = faults.filter((f) => f.injected && f.recovered).length;
  for (const f of faults) {
    if (!f.injected) problems.push(`fault ${f.id} was planned but not injected: ${f.detail ?? ''}`);
    else if (!f.recovered) problems.push(`fault ${f.id} was not recovered from: ${f.detail ?? ''}`);
  }
  const recordedFaults = new Set(faults.map((f) => f.id));
  const faultsNotRun = faultIds.filter((id) => !recordedFaults.has(id));
  if (faultsNotRun.length > 0) problems.push(`${faultsNotRun.length} planned fault(s) did not run: ${faultsNotRun.join(', ')}`);
  const unknownFaults = [...recordedFaults].filter((id) => faultIds.length > 0 && !faultIds.includes(id));
  if (unknownFaults.length > 0) problems.push(`outcomes of faults not in faults-plan.ts: ${unknownFaults.join(', ')}`);
  return {
    line: `bad inputs: ${byCase.size} tried, ${handled} handled as specified, ${lost} rows lost; faults: ${injected} injected, ${recovered} recovered`,
    problems,
  };
}

export default function setup(project: TestProject): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'bubblewatch-reliability-'));
  project.provide('reliabilityResultsDir', dir);
  return () => {
    const { line, problems } = summarise(readRecords(dir), loadCorpus().cases.map((c) => c.id), FAULTS);
    rmSync(dir, { recursive: true, force: true });
    for (const p of problems) process.stdout.write(`[reliability] ${p}\n`);
    process.stdout.write(`\n${line}\n`);
    if (problems.length > 0) {
      process.exitCode = 1;
      throw new Error(`reliability: ${problems.length} problem(s); see above`);
    }
  };
}
