import { defineCorpusTests } from './corpus.js';

defineCorpusTests('bad inputs: company-metrics and index-constituents CSV', (c) => (c.pipeline === 'company-metrics' || c.pipeline === 'index-constituents') && !c.http);
