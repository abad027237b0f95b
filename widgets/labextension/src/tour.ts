// A first-run tour for jupyterlab-tour (used only when that extension is installed).
export const TOUR = {
  id: 'medimg-labextension:tour',
  label: 'medimg course tour',
  hasHelpEntry: true,
  steps: [
    {
      target: '#medimg-course-navigator',
      title: 'Your course',
      content: 'The lessons in order, with objectives, time and your progress. Click one to open it.',
      placement: 'right'
    },
    {
      target: '#medimg-status',
      title: 'Your machine',
      content: 'The device, precision and tier the kit chose. Click for the full `medimg env` report.',
      placement: 'top'
    },
    {
      target: '#medimg-datasets',
      title: 'Datasets',
      content: 'What is cached and verified; fetch or verify a dataset here.',
      placement: 'right'
    },
    {
      target: 'body',
      title: 'Check my work',
      content: 'In an assignment, the "Check my work" button runs your self-checks and shows what passes.',
      placement: 'center'
    }
  ]
};
