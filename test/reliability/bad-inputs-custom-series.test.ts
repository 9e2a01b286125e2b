import { defineCorpusTests } from './corpus.js';

defineCorpusTests('bad inputs: custom-series CSV', (c) => c.pipeline === 'custom-series' && !c.http);
