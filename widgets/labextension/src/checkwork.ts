// "Check my work": run an assignment notebook's code in the student's kernel and summarise its mk.check cells.
import { ToolbarButton } from '@jupyterlab/apputils';
import { DocumentRegistry } from '@jupyterlab/docregistry';
import { INotebookModel, NotebookPanel } from '@jupyterlab/notebook';
import { Kernel, KernelMessage } from '@jupyterlab/services';
import { DisposableDelegate, IDisposable } from '@lumino/disposable';
import { Widget } from '@lumino/widgets';

import { el, post } from './api';

const CHECK_CALL = /\bcheck\(\s*["']([^"']+)["']/;
const HIDDEN = /^[ \t]*### BEGIN HIDDEN TESTS[\s\S]*?^[ \t]*### END HIDDEN TESTS[ \t]*$/gm;
const PASS = '\u2714';
const FAIL = '\u2718';

export interface CellPlan {
  index: number;
  code: string;
  exercise: string | null; // set for self-check cells
  points: number | null;
}

export interface ExerciseResult {
  name: string;
  passed: boolean;
  tests: number;
  failures: number;
  reason: string;
  hint: string;
  seconds: number;
}

export interface CheckResult {
  path: string;
  exercises: ExerciseResult[];
  passed: number;
  failed: number;
  total: number;
  seconds: number;
  cellErrors: string[];
}

/** The notebook's code in order, hidden-test blocks removed; self-check cells carry their exercise name. */
export function planCells(model: INotebookModel): CellPlan[] {
  const plan: CellPlan[] = [];
  for (let i = 0; i < model.cells.length; i++) {
    const cell = model.cells.get(i);
    if (cell.type !== 'code') {
      continue;
    }
    const code = cell.sharedModel.getSource().replace(HIDDEN, '').trimEnd();
    if (!code.trim()) {
      continue;
    }
    const nbgrader = (cell.getMetadata('nbgrader') || {}) as { grade?: boolean; grade_id?: string; points?: number };
    const m = CHECK_CALL.exec(code);
    const isCheck = m !== null && (nbgrader.grade === true || /\bmk\.check\(|^\s*check\(/m.test(code));
    plan.push({
      index: i,
      code,
      exercise: isCheck ? (m ? m[1] : nbgrader.grade_id || `cell ${i + 1}`) : null,
      points: typeof nbgrader.points === 'number' ? nbgrader.points : null
    });
  }
  return plan;
}

export function hasSelfChecks(model: INotebookModel): boolean {
  return planCells(model).some(c => c.exercise !== null);
}

/** Parse the lines mk.check prints (one per visible test) into per-exercise results. */
export function parseCheckOutput(text: string, fallback: string, error: string | null, seconds: number): ExerciseResult[] {
  const byName = new Map<string, ExerciseResult>();
  let last: { ex: ExerciseResult; failing: boolean } | null = null;
  const get = (name: string): ExerciseResult => {
    let ex = byName.get(name);
    if (!ex) {
      ex = { name, passed: true, tests: 0, failures: 0, reason: '', hint: '', seconds };
      byName.set(name, ex);
    }
    return ex;
  };
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    const mark = line.startsWith(PASS) ? 'pass' : line.startsWith(FAIL) ? 'fail' : null;
    if (mark) {
      const body = line.slice(1).trim();
      const cut = body.indexOf(': ');
      const name = cut > 0 ? body.slice(0, cut) : fallback;
      const ex = get(name);
      ex.tests++;
      if (mark === 'fail') {
        ex.failures++;
        ex.passed = false;
      }
      last = { ex, failing: mark === 'fail' };
      continue;
    }
    const why = /^\s+why:\s+(.*)$/.exec(line);
    const hint = /^\s+hint:\s+(.*)$/.exec(line);
    if (last && last.failing && why && !last.ex.reason) {
      last.ex.reason = why[1];
    } else if (last && last.failing && hint && !last.ex.hint) {
      last.ex.hint = hint[1];
    }
  }
  if (!byName.size) {
    const ex = get(fallback);
    ex.passed = error === null;
    ex.reason = error || '';
  } else if (error && !/CheckFailed/.test(error)) {
    const ex = get(fallback);
    ex.passed = false;
    ex.reason = ex.reason || error;
  }
  return [...byName.values()];
}

async function execute(kernel: Kernel.IKernelConnection, code: string): Promise<{ out: string; error: string | null }> {
  const future = kernel.requestExecute({ code, store_history: false, stop_on_error: false, allow_stdin: false });
  let out = '';
  let error: string | null = null;
  future.onIOPub = (msg: KernelMessage.IIOPubMessage) => {
    const t = msg.header.msg_type;
    if (t === 'stream') {
      out += (msg as KernelMessage.IStreamMsg).content.text;
    } else if (t === 'error') {
      const c = (msg as KernelMessage.IErrorMsg).content;
      error = `${c.ename}: ${c.evalue}`;
    }
  };
  await future.done;
  return { out, error };
}

/** Run every code cell of ``panel`` in its kernel (outputs are not written into the notebook). */
export async function checkMyWork(panel: NotebookPanel, progress?: (done: number, total: number) => void): Promise<CheckResult> {
  await panel.sessionContext.ready;
  const kernel = panel.sessionContext.session?.kernel;
  if (!kernel || kernel.status === 'dead') {
    throw new Error('no running kernel: start or restart the kernel, then check again');
  }
  const plan = planCells(panel.content.model!);
  const t0 = performance.now();
  const exercises: ExerciseResult[] = [];
  const cellErrors: string[] = [];
  for (let i = 0; i < plan.length; i++) {
    const cell = plan[i];
    progress?.(i, plan.length);
    const c0 = performance.now();
    const { out, error } = await execute(kernel, cell.code);
    const secs = (performance.now() - c0) / 1000;
    if (cell.exercise !== null) {
      exercises.push(...parseCheckOutput(out, cell.exercise, error, secs));
    } else if (error) {
      cellErrors.push(`cell ${cell.index + 1}: ${error}`);
    }
  }
  progress?.(plan.length, plan.length);
  const total = exercises.reduce((n, e) => n + Math.max(e.tests, 1), 0);
  const failed = exercises.reduce((n, e) => n + (e.tests ? e.failures : e.passed ? 0 : 1), 0);
  return {
    path: panel.context.path,
    exercises,
    passed: total - failed,
    failed,
    total,
    seconds: (performance.now() - t0) / 1000,
    cellErrors
  };
}

export class CheckPanel extends Widget {
  constructor() {
    super();
    this.id = 'medimg-checkwork-panel';
    this.addClass('medimg-panel');
    this.addClass('medimg-checkwork');
    this.title.label = 'Check my work';
    this.title.closable = true;
  }

  showRunning(path: string, done: number, total: number): void {
    const bar = el('progress', { max: String(total), value: String(done) });
    this.node.replaceChildren(
      el('h2', {}, 'Check my work'),
      el('p', { class: 'medimg-meta' }, path),
      el('p', { class: 'medimg-running' }, `running cell ${Math.min(done + 1, total)} of ${total} in your kernel…`),
      bar
    );
  }

  showError(path: string, message: string): void {
    this.node.replaceChildren(el('h2', {}, 'Check my work'), el('p', { class: 'medimg-meta' }, path),
      el('div', { class: 'medimg-error' }, message));
  }

  showResult(r: CheckResult): void {
    const allOk = r.failed === 0 && r.total > 0;
    const nOk = r.exercises.filter(e => e.passed).length;
    const summary = el('p', { class: `medimg-summary ${allOk ? 'medimg-pass' : 'medimg-fail'}`, 'data-passed': String(allOk) },
      `${nOk} of ${r.exercises.length} exercises pass (${r.passed}/${r.total} visible tests) in ${r.seconds.toFixed(1)} s`);
    const table = el('table', { class: 'medimg-exercises' });
    for (const e of r.exercises) {
      const row = el('tr', { class: e.passed ? 'medimg-pass' : 'medimg-fail', 'data-exercise': e.name, 'data-passed': String(e.passed) },
        el('td', {}, e.passed ? PASS : FAIL),
        el('td', {}, e.name),
        el('td', { class: 'medimg-meta' }, e.tests ? `${e.tests - e.failures}/${e.tests}` : ''),
        el('td', { class: 'medimg-meta' }, `${e.seconds.toFixed(1)} s`));
      table.append(row);
      if (!e.passed) {
        const detail = el('td', { colspan: '4', class: 'medimg-why' });
        if (e.reason) {
          detail.append(el('div', {}, `why: ${e.reason}`));
        }
        if (e.hint) {
          detail.append(el('div', { class: 'medimg-hint' }, `hint: ${e.hint}`));
        }
        table.append(el('tr', {}, detail));
      }
    }
    const firstFail = r.exercises.find(e => !e.passed);
    const parts: (Node | string)[] = [el('h2', {}, 'Check my work'), el('p', { class: 'medimg-meta' }, r.path), summary];
    if (firstFail) {
      parts.push(el('p', { class: 'medimg-first-hint' },
        `First to fix: ${firstFail.name}${firstFail.hint ? ` — hint: ${firstFail.hint}` : firstFail.reason ? ` — ${firstFail.reason}` : ''}`));
    }
    parts.push(table);
    if (r.cellErrors.length) {
      parts.push(el('details', {}, el('summary', {}, `${r.cellErrors.length} other cell(s) raised an error`),
        el('pre', {}, r.cellErrors.join('\n'))));
    }
    parts.push(el('p', { class: 'medimg-meta' },
      'Hidden tests are run only when your instructor grades the assignment; they are not run or shown here.'));
    this.node.replaceChildren(...parts);
  }
}

/** Adds the "Check my work" button to notebooks that hold self-check cells, and nothing to the others. */
export class CheckButtonExtension implements DocumentRegistry.IWidgetExtension<NotebookPanel, INotebookModel> {
  constructor(private readonly run: (panel: NotebookPanel) => void) {}

  createNew(panel: NotebookPanel, context: DocumentRegistry.IContext<INotebookModel>): IDisposable {
    const button = new ToolbarButton({
      className: 'medimg-checkwork-button',
      label: 'Check my work',
      tooltip: 'Run this notebook in your kernel and show which self-checks pass (hidden tests stay hidden)',
      onClick: () => this.run(panel)
    });
    let added = false;
    void context.ready.then(() => {
      if (!panel.isDisposed && hasSelfChecks(context.model)) {
        panel.toolbar.insertItem(10, 'medimgCheckMyWork', button);
        added = true;
      }
    });
    return new DisposableDelegate(() => {
      if (added) {
        button.dispose();
      }
    });
  }
}

export function reportResult(r: CheckResult): Promise<unknown> {
  return post('progress/selfcheck', {
    path: r.path,
    result: {
      passed: r.passed, failed: r.failed, total: r.total, seconds: r.seconds,
      exercises: r.exercises.map(e => ({ name: e.name, passed: e.passed }))
    }
  });
}
