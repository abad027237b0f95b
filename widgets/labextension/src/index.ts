// medimg in JupyterLab 4 and Notebook 7: course navigator, environment status, Check my work, datasets, welcome.
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { IStateDB } from '@jupyterlab/statedb';
import { IStatusBar } from '@jupyterlab/statusbar';
import { TabPanel, Widget } from '@lumino/widgets';

import { CourseIndex, NotebookInfo, post, requestAPI } from './api';
import { CheckButtonExtension, CheckPanel, checkMyWork, reportResult } from './checkwork';
import { DatasetPanel } from './datasets';
import { CourseNavigator } from './navigator';
import { EnvReport, EnvStatusItem } from './statusitem';
import { TOUR } from './tour';

const ID = 'medimg-labextension';
const WELCOME_KEY = `${ID}:welcome-shown`;

namespace Cmd {
  export const open = 'medimg:open';
  export const welcome = 'medimg:open-welcome';
  export const env = 'medimg:env-report';
  export const check = 'medimg:check-my-work';
  export const course = 'medimg:show-course';
  export const datasets = 'medimg:show-datasets';
}

/** Notebook 7's file browser page: its main widget is the tab panel of the tree (Files, Running, ...). */
function notebookTree(app: JupyterFrontEnd): TabPanel | null {
  if (app.name === 'JupyterLab') {
    return null;
  }
  for (const w of app.shell.widgets('main')) {
    if (w instanceof TabPanel) {
      return w;
    }
  }
  return null;
}

function place(app: JupyterFrontEnd, widget: Widget, rank: number): void {
  const tree = notebookTree(app);
  if (tree) {
    tree.addWidget(widget);
  } else {
    app.shell.add(widget, 'left', { rank });
  }
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: `${ID}:plugin`,
  description: 'medimg course kit: navigator, status bar, Check my work, datasets and welcome',
  autoStart: true,
  optional: [INotebookTracker, IStatusBar, ICommandPalette, IStateDB],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker | null,
    statusBar: IStatusBar | null,
    palette: ICommandPalette | null,
    state: IStateDB | null
  ) => {
    const open = (path: string) => void app.commands.execute('docmanager:open', { path });
    const navigator = new CourseNavigator(open);
    const datasets = new DatasetPanel();
    const checkPanel = new CheckPanel();
    let envItem: EnvStatusItem | null = null;

    app.commands.addCommand(Cmd.open, {
      label: 'Open a course notebook',
      execute: args => open(String(args.path))
    });
    app.commands.addCommand(Cmd.welcome, {
      label: 'medimg: Open the welcome notebook',
      execute: async () => {
        const index: CourseIndex = navigator.index || (await requestAPI<CourseIndex>('course'));
        if (index.welcome) {
          open(index.welcome);
        }
      }
    });
    app.commands.addCommand(Cmd.env, {
      label: 'medimg: Environment report',
      execute: async () => {
        const env = envItem?.env || (await requestAPI<{ report: string }>('status'));
        const old = document.getElementById('medimg-env-report');
        if (old) {
          old.remove();
        }
        const w = new MainAreaWidget({ content: new EnvReport(env.report) });
        w.id = 'medimg-env-report-area';
        w.title.label = 'medimg env';
        app.shell.add(w, 'main');
        app.shell.activateById(w.id);
      }
    });
    const runCheck = async (panel: NotebookPanel) => {
      if (!checkPanel.isAttached) {
        app.shell.add(checkPanel, 'right', { rank: 900 });
      }
      app.shell.activateById(checkPanel.id);
      const path = panel.context.path;
      try {
        const result = await checkMyWork(panel, (done, total) => checkPanel.showRunning(path, done, total));
        checkPanel.showResult(result);
        await reportResult(result).catch(err => console.warn('medimg: could not store the result', err));
        void navigator.refresh();
      } catch (err) {
        checkPanel.showError(path, (err as Error).message);
      }
    };
    app.commands.addCommand(Cmd.check, {
      label: 'medimg: Check my work',
      isEnabled: () => !!tracker?.currentWidget,
      execute: () => (tracker?.currentWidget ? runCheck(tracker.currentWidget) : undefined)
    });
    app.commands.addCommand(Cmd.course, {
      label: 'medimg: Show the course navigator',
      execute: () => app.shell.activateById(navigator.id)
    });
    app.commands.addCommand(Cmd.datasets, {
      label: 'medimg: Show the datasets',
      execute: () => app.shell.activateById(datasets.id)
    });
    if (palette) {
      for (const command of [Cmd.welcome, Cmd.env, Cmd.check, Cmd.course, Cmd.datasets]) {
        palette.addItem({ command, category: 'medimg' });
      }
    }

    app.docRegistry.addWidgetExtension('Notebook', new CheckButtonExtension(p => void runCheck(p)));

    if (tracker) {
      tracker.widgetAdded.connect((_, panel) => {
        void panel.context.ready.then(() =>
          post<NotebookInfo>('progress/opened', { path: panel.context.path })
            .then(() => navigator.refresh())
            .catch(err => console.debug('medimg: not a course notebook', err))
        );
      });
    }

    if (statusBar) {
      envItem = new EnvStatusItem(tracker, () => void app.commands.execute(Cmd.env));
      statusBar.registerStatusItem(`${ID}:status`, { item: envItem, align: 'left', rank: 100 });
      void envItem.refresh();
    }

    void app.restored.then(async () => {
      place(app, navigator, 50);
      place(app, datasets, 51);
      await navigator.refresh();
      const index = navigator.index;
      if (!index || !index.welcome) {
        return; // not a course folder: no course UI beyond the empty panels
      }
      if (app.commands.hasCommand('jupyterlab-tour:add')) {
        void app.commands.execute('jupyterlab-tour:add', { tour: TOUR as any }).catch(() => undefined);
      }
      if (state && app.name === 'JupyterLab') {
        const shown = await state.fetch(WELCOME_KEY).catch(() => null);
        const busy = Array.from(app.shell.widgets('main')).some(w => w instanceof NotebookPanel);
        if (!shown && !busy) {
          open(index.welcome);
        }
        await state.save(WELCOME_KEY, true);
      }
    });
  }
};

export default plugin;
