// The layers of the house and the one direction of imports between them (docs/architecture.md says the same in
// words). `npm test` fails on any circle or any import against these rules.
//
//   api/ · workers/ · scripts/ · bench/       edges: entry points and tools
//   services/                                 stores combined with Temporal (and the hot paths behind one interface)
//   activities/                               I/O for workflows, over stores, services and processor clients
//   workflows/                                the stories; activity *types* only
//   workflows/*.contract.ts                   ids, messages and types of each workflow: what callers import
//   stores/ → ledger/                         PostgreSQL: the stores and the books
//   processors/ · webhooks/                   outside systems' clients and simulators; webhook signing and URLs
//   domain/                                   pure rules
//   runtime/                                  process plumbing of the entry points (copies, HTTP settings, logs)
//   config.ts                                 configuration, read by entry points
const layer = (name) => `^${name}/`;
/** The metrics' one home: every layer with I/O counts through it (runtime/metrics.ts). */
const METRICS = '^runtime/metrics\\.ts$';
const CONTRACTS = '^workflows/([^/]+\\.contract|searchAttributes)\\.ts$';
const STORIES = '^workflows/(?!.*\\.contract\\.ts$)(?!searchAttributes\\.ts$)';

/** A layer may import only what the list names (its own files always). */
const only = (name, from, allowed, extra = {}) => ({
  name, severity: 'error',
  comment: `${from} may import only ${allowed.join(', ')}`,
  from: { path: from, ...extra.from },
  to: { dependencyTypes: ['local'], pathNot: [...allowed, from].map((a) => `(${a})`).join('|'), ...extra.to },
});

module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'No import circles, type-only ones included', from: {}, to: { circular: true } },
    { name: 'not-to-test', severity: 'error', comment: 'Nothing outside test/ imports test/', from: { pathNot: '^test/' }, to: { path: '^test/' } },
    { name: 'not-to-edges', severity: 'error', comment: 'Nothing imports api/ or workers/ (tests aside)',
      from: { pathNot: '^(test|api|workers)/' }, to: { path: '^(api|workers)/' } },
    { name: 'not-to-unresolvable', severity: 'error', from: {}, to: { couldNotResolve: true } },

    only('domain-is-pure', layer('domain'), [layer('domain')]),
    { name: 'domain-no-packages', severity: 'error', comment: 'domain/ imports no package and no Node built-in',
      from: { path: layer('domain') }, to: { dependencyTypes: ['npm', 'npm-dev', 'core'] } },

    only('contracts', CONTRACTS, [layer('domain'), CONTRACTS]),
    only('workflows', STORIES, [layer('domain'), '^workflows/', layer('activities')]),
    { name: 'workflows-activity-types-only', severity: 'error', comment: 'workflows/ import activity types, never activity code',
      from: { path: '^workflows/' }, to: { path: layer('activities'), dependencyTypesNot: ['type-only'] } },
    { name: 'workflows-deterministic', severity: 'error',
      comment: 'workflows/ import no Node built-in and no package but @temporalio/workflow and @temporalio/common',
      from: { path: '^workflows/' },
      to: { dependencyTypes: ['npm', 'npm-dev', 'core'], pathNot: '^node_modules/@temporalio/(workflow|common)/' } },

    only('ledger', layer('ledger'), [layer('domain'), METRICS]),
    only('stores', layer('stores'), [layer('domain'), layer('ledger')]),
    only('processors', layer('processors'), [layer('domain'), '^ledger/db\\.ts$', '^config\\.ts$', METRICS]),
    only('webhooks', layer('webhooks'), []),
    only('services', layer('services'), [layer('domain'), layer('ledger'), layer('stores'), layer('processors'), layer('webhooks'), CONTRACTS]),
    only('activities', layer('activities'),
      [layer('domain'), layer('ledger'), layer('stores'), layer('services'), layer('processors'), layer('webhooks'), CONTRACTS, METRICS]),
    only('api', layer('api'), [layer('domain'), '^ledger/db\\.ts$', layer('stores'), layer('services'), layer('runtime'), CONTRACTS, '^config\\.ts$']),
    { name: 'api-no-connections', severity: 'error', comment: 'api/ routes work through stores and services; only api/main.ts opens connections',
      from: { path: layer('api'), pathNot: '^api/main\\.ts$' }, to: { path: '^ledger/db\\.ts$', dependencyTypesNot: ['type-only'] } },
    only('workers', layer('workers'),
      [layer('domain'), layer('ledger'), layer('stores'), layer('services'), layer('activities'), layer('processors'), layer('runtime'), CONTRACTS,
        '^config\\.ts$']),
    only('runtime', layer('runtime'), [CONTRACTS, '^config\\.ts$']),
    only('config', '^config\\.ts$', []),
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(\\.data|\\.tools|dist)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
