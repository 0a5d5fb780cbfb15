// Tabular data: CSV columns to a float32 feature matrix, with the fitted preprocessing that a
// saved model keeps so that serving transforms raw records the way training did.
export {
  type ColumnType, type MissingRule, type MissingPolicy, type MissingOptions, type PerColumn, type TabularRows, type ColumnChoice,
  DEFAULT_MISSING_MARKERS, parseNumber, chooseColumns, columnTypes, selectRows, sortNames,
} from './columns.js';
export {
  type Scaling, type Encoding, type TabularSpec, type TabularPreprocessorJson, type ColumnJson, type MissingJson, type RawRecord,
  type TransformResult, TabularPreprocessor,
} from './preprocessor.js';
export {
  type CsvDatasetOptions, type CsvDataset, type TabularSplit, type TabularReport, type ColumnReport,
  loadCsvDataset, tabularDataset, splitIndices, formatTabularReport,
} from './load.js';
