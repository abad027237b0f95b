// The REST API of the server extension (medimg_kernel/server/handlers.py); shapes mirror schema.py.
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

export type State = 'not_started' | 'opened' | 'run' | 'passed' | 'failed';

export interface NotebookStatus {
  state: State;
  score: number | null;
  passed: number | null;
  total: number | null;
  metrics: { [name: string]: number };
  evidence: string | null;
}

export interface LessonInfo {
  number: string;
  path: string;
  title: string;
  objectives: string[];
  estimated_minutes: number | null;
  tier: string | null;
  budget_s: number | null;
  status: NotebookStatus;
  assignment: { name: string; path: string; status: NotebookStatus } | null;
}

export interface CourseIndex {
  root: string;
  lessons_dir: string | null;
  tier: string | null;
  lessons: LessonInfo[];
  welcome: string | null;
}

export interface EnvStatus {
  device: string;
  precision: string;
  memory_format: string;
  threads: number;
  tier: string;
  gpu: { name: string; memory_gb: number | null } | null;
  problems: string[];
  report: string;
}

export interface DatasetRow {
  name: string;
  title: string;
  source: string;
  modality: string;
  task: string;
  license: string;
  size: number | null;
  on_disk: number;
  cached: boolean;
  verified: boolean | null;
}

export interface FetchJob {
  name: string;
  state: 'idle' | 'running' | 'done' | 'error';
  bytes_done: number;
  bytes_total: number | null;
  error: string | null;
  seconds: number;
}

export interface NotebookInfo {
  path: string;
  kind: 'lesson' | 'assignment' | null;
  number: string | null;
  selfcheck: boolean;
}

/** Call `<base>/medimg/<path>`; a non-2xx answer throws an Error carrying the server's one-line message. */
export async function requestAPI<T>(path: string, init: RequestInit = {}): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, 'medimg', path);
  const response = await ServerConnection.makeRequest(url, init, settings);
  const text = await response.text();
  let data: any = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { message: text };
  }
  if (!response.ok) {
    throw new Error((data && data.message) || `HTTP ${response.status}`);
  }
  return data as T;
}

export function post<T>(path: string, body: unknown = {}): Promise<T> {
  return requestAPI<T>(path, { method: 'POST', body: JSON.stringify(body) });
}

export function formatBytes(n: number | null): string {
  if (n === null || n === undefined) {
    return '?';
  }
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(v < 10 && i > 0 ? 1 : 0)} ${units[i]}`;
}

/** A tiny DOM helper: el('div', {class: 'x'}, child, 'text'). */
export function el(
  tag: string,
  attrs: { [key: string]: string } = {},
  ...children: (Node | string | null)[]
): HTMLElement {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    node.setAttribute(k, v);
  }
  for (const c of children) {
    if (c !== null) {
      node.append(c);
    }
  }
  return node;
}
