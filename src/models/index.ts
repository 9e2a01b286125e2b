/**
 * The model layer: analytics views defined in sql/models/<schema>/<view>.sql + .yml, built by
 * the migrator, and the indicators their yml declares.
 */
export { declaredIndicators, loadModels, MODELS_DIR, withDependents, type Model } from './load-models.js';
export { editDistance, findIndicator, nearestIndicatorNames, nearestNames, type DeclaredIndicator } from './indicators.js';
export { DIRECTIONS, FREQUENCIES, type Direction, type ExampleQuery, type Frequency, type ModelColumn, type ModelFile } from './model-file.js';
