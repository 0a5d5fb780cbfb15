// Datasets by name, as keras.datasets: `await lt.data.datasets.mnist.load()`.
export { mnist, fashionMnist, IdxImageDataset, MNIST_SPEC, FASHION_MNIST_SPEC, type DatasetLoadOptions, type LoadedDataset, type DatasetSource, type IdxDatasetSpec, type MnistSplit } from './mnist.js';
export { datasetCacheDir } from './download.js';
