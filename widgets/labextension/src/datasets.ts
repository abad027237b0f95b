// The dataset panel: the registry with what is cached and verified, fetch with progress, verify.
import { Widget } from '@lumino/widgets';

import { DatasetRow, FetchJob, el, formatBytes, post, requestAPI } from './api';

export class DatasetPanel extends Widget {
  constructor() {
    super();
    this.id = 'medimg-datasets';
    this.addClass('medimg-panel');
    this.addClass('medimg-datasets');
    this.title.label = 'Datasets';
    this.title.caption = 'medimg datasets: registry, cache, fetch and verify';
  }

  protected onAfterShow(): void {
    void this.refresh();
  }

  async refresh(): Promise<void> {
    try {
      const doc = await requestAPI<{ cache_dir: string; datasets: DatasetRow[] }>('datasets');
      const packs = await requestAPI<{ packs: { path: string; size: number }[] }>('packs');
      this.render(doc.cache_dir, doc.datasets);
      this.renderPacks(packs.packs);
    } catch (err) {
      this.node.replaceChildren(el('div', { class: 'medimg-error' }, `medimg: ${(err as Error).message}`));
    }
  }

  private render(cacheDir: string, rows: DatasetRow[]): void {
    const reload = el('button', { class: 'jp-Button medimg-small' }, 'Refresh');
    reload.onclick = () => void this.refresh();
    const table = el('table', { class: 'medimg-dataset-table' });
    for (const row of rows) {
      table.append(...this.row(row));
    }
    this.node.replaceChildren(
      el('div', { class: 'medimg-header' }, el('h2', {}, 'Datasets'), reload),
      el('p', { class: 'medimg-meta medimg-cache-dir' }, `cache folder: ${cacheDir}`),
      table
    );
  }

  private renderPacks(packs: { path: string; size: number }[]): void {
    const box = el('div', { class: 'medimg-packs' }, el('h3', {}, 'Offline course packs'));
    if (!packs.length) {
      box.append(el('p', { class: 'medimg-meta' },
        'None in the course folder (an instructor makes one with `medimg data pack`; put the .medimgpack file here or in packs/).'));
    }
    for (const pack of packs) {
      const line = el('div', { class: 'medimg-pack-status' });
      const button = el('button', { class: 'jp-Button medimg-small medimg-import', 'data-path': pack.path }, 'Import');
      button.onclick = async () => {
        button.setAttribute('disabled', 'true');
        line.replaceChildren(el('span', { class: 'medimg-meta' }, 'verifying and installing…'));
        try {
          const res = await post<{ installed: string[] }>('packs/import', { path: pack.path });
          await this.refresh();
          const done = this.node.querySelector(`.medimg-pack-status[data-path="${CSS.escape(pack.path)}"]`);
          done?.replaceChildren(el('span', { class: 'medimg-pass' }, `installed: ${res.installed.join(', ') || 'nothing new'}`));
        } catch (err) {
          line.replaceChildren(el('div', { class: 'medimg-error' }, (err as Error).message));
        } finally {
          button.removeAttribute('disabled');
        }
      };
      line.dataset.path = pack.path;
      box.append(el('div', { class: 'medimg-pack', 'data-path': pack.path },
        el('span', {}, `${pack.path} (${formatBytes(pack.size)}) `), button), line);
    }
    this.node.append(box);
  }

  private row(d: DatasetRow): HTMLElement[] {
    const state = d.source !== 'remote' ? d.source
      : d.verified ? 'verified' : d.cached ? 'cached, not verified' : d.on_disk > 0 ? 'partial' : 'not cached';
    const actions = el('td', { class: 'medimg-actions' });
    const line = el('td', { colspan: '2', class: 'medimg-dataset-status' });
    if (d.source === 'remote') {
      const fetch = el('button', { class: 'jp-Button medimg-small medimg-fetch', 'data-name': d.name }, 'Fetch');
      fetch.onclick = () => void this.fetch(d.name, line, fetch);
      const verify = el('button', { class: 'jp-Button medimg-small medimg-verify', 'data-name': d.name }, 'Verify');
      verify.onclick = () => void this.verify(d.name, line);
      actions.append(fetch, verify);
    }
    const size = d.source === 'remote' ? `${formatBytes(d.size)} · ` : '';
    const tr = el('tr', { class: 'medimg-dataset', 'data-name': d.name, 'data-state': state },
      el('td', { title: `${d.title} — ${d.modality}, ${d.task}; licence ${d.license}` },
        el('div', { class: 'medimg-dataset-name' }, d.name),
        el('div', { class: 'medimg-meta medimg-cache-state' }, `${size}${state}`)),
      actions);
    return [tr, el('tr', { class: 'medimg-dataset-line' }, line)];
  }

  private async fetch(name: string, line: HTMLElement, button: HTMLElement): Promise<void> {
    button.setAttribute('disabled', 'true');
    const bar = el('progress', { max: '1', value: '0' }) as HTMLProgressElement;
    const text = el('span', { class: 'medimg-meta' }, ' starting…');
    line.replaceChildren(bar, text);
    try {
      let job = await post<FetchJob>(`datasets/${name}/fetch`);
      while (job.state === 'running') {
        if (job.bytes_total) {
          bar.max = job.bytes_total;
          bar.value = Math.min(job.bytes_done, job.bytes_total);
        }
        text.textContent = ` ${formatBytes(job.bytes_done)} of ${formatBytes(job.bytes_total)}`;
        await new Promise(r => setTimeout(r, 300));
        job = await requestAPI<FetchJob>(`datasets/${name}/fetch`);
      }
      if (job.state === 'error') {
        line.replaceChildren(el('div', { class: 'medimg-error', 'data-name': name }, job.error || 'fetch failed'));
      } else {
        bar.value = bar.max;
        text.textContent = ` done in ${job.seconds.toFixed(1)} s`;
        await this.refresh();
      }
    } catch (err) {
      line.replaceChildren(el('div', { class: 'medimg-error' }, (err as Error).message));
    } finally {
      button.removeAttribute('disabled');
    }
  }

  private async verify(name: string, line: HTMLElement): Promise<void> {
    line.replaceChildren(el('span', { class: 'medimg-meta' }, 'verifying…'));
    try {
      const res = await post<{ ok: boolean; files: { filename: string; status: string }[] }>(`datasets/${name}/verify`);
      const detail = res.files.map(f => `${f.filename}: ${f.status}`).join(', ') || 'nothing cached';
      line.replaceChildren(el('div', { class: res.ok ? 'medimg-pass' : 'medimg-error', 'data-name': name },
        `${res.ok ? 'verified' : 'not verified'} — ${detail}`));
    } catch (err) {
      line.replaceChildren(el('div', { class: 'medimg-error' }, (err as Error).message));
    }
  }
}
