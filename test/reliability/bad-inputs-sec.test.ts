import { defineCorpusTests } from './corpus.js';

defineCorpusTests('bad inputs: SEC companyfacts JSON and financial statement data sets', (c) => (c.pipeline === 'sec-companyfacts' || c.pipeline === 'sec-fsds') && !c.http);
