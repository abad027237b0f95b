// The status bar item: device, precision, tier and GPU memory from the server, and the kernel's state.
import { ISessionContext } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { Widget } from '@lumino/widgets';

import { EnvStatus, el, requestAPI } from './api';

export function envSummary(env: EnvStatus): string {
  const parts = [env.device, env.precision, `tier ${env.tier}`];
  if (env.gpu) {
    parts.push(env.gpu.memory_gb ? `${env.gpu.name} ${env.gpu.memory_gb} GB` : env.gpu.name);
  }
  return parts.join(' · ');
}

export class EnvStatusItem extends Widget {
  constructor(tracker: INotebookTracker | null, private readonly onOpen: () => void) {
    super();
    this.id = 'medimg-status';
    this.addClass('medimg-status');
    this.node.title = 'medimg environment: click for the full `medimg env` report';
    this.node.onclick = () => this.onOpen();
    this._label = el('span', { class: 'medimg-status-env' }, 'medimg …');
    this._kernel = el('span', { class: 'medimg-status-kernel' }, '');
    this.node.append(this._label, this._kernel);
    if (tracker) {
      tracker.currentChanged.connect((_, panel) => this.follow(panel ? panel.sessionContext : null));
      this.follow(tracker.currentWidget ? tracker.currentWidget.sessionContext : null);
    }
  }

  get env(): EnvStatus | null {
    return this._env;
  }

  async refresh(): Promise<void> {
    try {
      this._env = await requestAPI<EnvStatus>('status');
      this._label.textContent = `medimg: ${envSummary(this._env)}`;
      this._label.classList.toggle('medimg-warn', this._env.problems.length > 0);
    } catch (err) {
      this._label.textContent = `medimg: status unavailable (${(err as Error).message})`;
    }
  }

  private follow(ctx: ISessionContext | null): void {
    if (this._ctx) {
      this._ctx.statusChanged.disconnect(this.onKernelStatus, this);
    }
    this._ctx = ctx;
    this._diedAt = 0;
    if (ctx) {
      ctx.statusChanged.connect(this.onKernelStatus, this);
    }
    this.onKernelStatus();
  }

  private onKernelStatus(): void {
    const ctx = this._ctx;
    const status = ctx ? ctx.kernelDisplayStatus : '';
    if (status === 'autorestarting' || status === 'dead') {
      this._diedAt = Date.now();
    }
    let text = '';
    if (status === 'busy') {
      text = 'kernel busy';
    } else if (status === 'dead') {
      text = 'kernel dead: restart it (Kernel ▸ Restart Kernel)';
    } else if (status === 'autorestarting' || status === 'restarting') {
      text = 'kernel restarting';
    } else if (status === 'starting' || status === 'initializing') {
      text = 'kernel starting';
    } else if (ctx && ctx.hasNoKernel) {
      text = 'no kernel';
    }
    if (this._diedAt && Date.now() - this._diedAt < 20_000 && status !== 'dead') {
      // a crash is easy to miss when the server restarts the kernel at once: say so for a while
      text = `kernel died and was restarted: run the cells again${status === 'busy' ? ' · kernel busy' : ''}`;
      window.setTimeout(() => this.onKernelStatus(), 20_500);
    }
    this._kernel.textContent = text ? ` · ${text}` : '';
    this._kernel.dataset.kernel = status;
  }

  private _env: EnvStatus | null = null;
  private _label: HTMLElement;
  private _kernel: HTMLElement;
  private _ctx: ISessionContext | null = null;
  private _diedAt = 0;
}

export class EnvReport extends Widget {
  constructor(text: string) {
    super();
    this.id = 'medimg-env-report';
    this.addClass('medimg-panel');
    this.addClass('medimg-env-report');
    this.title.label = 'medimg env';
    this.title.closable = true;
    this.node.append(el('pre', {}, text));
  }
}
