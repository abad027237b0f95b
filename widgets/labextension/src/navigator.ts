// The course navigator: lessons in order with objectives, time, tier, assignment and the student's status.
import { Widget } from '@lumino/widgets';

import { CourseIndex, LessonInfo, NotebookStatus, el, requestAPI } from './api';

const STATE_LABEL: { [state: string]: string } = {
  not_started: 'not started',
  opened: 'opened',
  run: 'run to the end',
  passed: 'self-check passed',
  failed: 'self-check not passed yet'
};

function badge(status: NotebookStatus): HTMLElement {
  let text = STATE_LABEL[status.state] || status.state;
  if (status.total !== null && status.passed !== null) {
    text += ` (${status.passed}/${status.total})`;
  }
  const b = el('span', { class: `medimg-badge medimg-state-${status.state}`, 'data-state': status.state }, text);
  if (status.evidence) {
    b.title = status.evidence;
  }
  return b;
}

export class CourseNavigator extends Widget {
  constructor(private readonly openPath: (path: string) => void) {
    super();
    this.id = 'medimg-course-navigator';
    this.addClass('medimg-panel');
    this.addClass('medimg-navigator');
    this.title.label = 'Course';
    this.title.caption = 'medimg course: lessons, assignments and your progress';
  }

  get index(): CourseIndex | null {
    return this._index;
  }

  async refresh(): Promise<void> {
    try {
      this._index = await requestAPI<CourseIndex>('course');
      this.render();
    } catch (err) {
      this.node.replaceChildren(el('div', { class: 'medimg-error' }, `medimg: ${(err as Error).message}`));
    }
  }

  protected onAfterShow(): void {
    void this.refresh();
  }

  private render(): void {
    const index = this._index;
    if (!index) {
      return;
    }
    const header = el('div', { class: 'medimg-header' }, el('h2', {}, 'medimg course'));
    const reload = el('button', { class: 'jp-Button medimg-small', title: 'Refresh' }, 'Refresh');
    reload.onclick = () => void this.refresh();
    header.append(reload);
    if (!index.lessons.length) {
      this.node.replaceChildren(
        header,
        el('p', { class: 'medimg-empty' }, 'No course lessons (NN_*.ipynb) in this folder.')
      );
      return;
    }
    const list = el('ol', { class: 'medimg-lessons' });
    for (const lesson of index.lessons) {
      list.append(this.lessonItem(lesson));
    }
    const tier = index.tier ? el('p', { class: 'medimg-meta' }, `tier: ${index.tier}`) : null;
    this.node.replaceChildren(header, tier ?? '', list);
  }

  private lessonItem(lesson: LessonInfo): HTMLElement {
    const open = el('a', { class: 'medimg-lesson-title', href: '#', 'data-path': lesson.path },
      `${lesson.number} · ${lesson.title}`);
    open.onclick = (ev: Event) => {
      ev.preventDefault();
      this.openPath(lesson.path);
    };
    const meta: string[] = [];
    if (lesson.estimated_minutes !== null) {
      meta.push(`~${lesson.estimated_minutes} min`);
    }
    if (lesson.tier) {
      meta.push(`tier ${lesson.tier}`);
    }
    if (lesson.budget_s) {
      meta.push(`smoke run ≤ ${lesson.budget_s} s`);
    }
    const item = el('li', { class: 'medimg-lesson', 'data-number': lesson.number },
      el('div', { class: 'medimg-lesson-row' }, open, badge(lesson.status)));
    if (meta.length) {
      item.append(el('div', { class: 'medimg-meta' }, meta.join(' · ')));
    }
    if (lesson.objectives.length) {
      const details = el('details', { class: 'medimg-objectives' }, el('summary', {}, 'Objectives'));
      const ul = el('ul', {});
      for (const o of lesson.objectives) {
        ul.append(el('li', {}, o));
      }
      details.append(ul);
      item.append(details);
    }
    if (lesson.assignment) {
      const a = lesson.assignment;
      const link = el('a', { class: 'medimg-assignment-link', href: '#', 'data-path': a.path }, `Assignment ${a.name}`);
      link.onclick = (ev: Event) => {
        ev.preventDefault();
        this.openPath(a.path);
      };
      item.append(el('div', { class: 'medimg-assignment' }, link, badge(a.status)));
    }
    return item;
  }

  private _index: CourseIndex | null = null;
}
