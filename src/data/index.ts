// lt.data: datasets, sources (IDX, CSV, image folders), splits, tabular preprocessing, tokenizers.
export { loadMnist, loadMnistSplit, readIdx, type MnistSplit } from './mnist.js';
export * as datasets from './datasets/index.js';
export { encodeIdx, parseIdx, readIdxAsync, readIdxTensor, writeIdx, type IdxArray, type IdxInput, type IdxType, type IdxWriteOptions } from './sources/idx.js';
export { Dataset, type Batched, type ElementContext, type TensorStructure } from './dataset.js';
export { trainTestSplit, trainTestSplitIndices, type SplitOptions } from './split.js';
export { loadImageFolder, imageFolderEntries, decodeImage, decodeImageAsync, decodeImageBytes } from './sources/images.js';
export * as imageTransforms from './image-transforms.js';
export { readCsv, readCsvFile, parseCsv, parseCsvText } from './sources/csv.js';
export * as tabular from './tabular/index.js';
export * as text from './text/index.js';
