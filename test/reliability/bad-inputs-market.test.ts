import { defineCorpusTests } from './corpus.js';

defineCorpusTests('bad inputs: Shiller and FRED', (c) => (c.pipeline === 'shiller' || c.pipeline === 'fred') && !c.http);
