// lt.data: dataset loaders (a minimal MNIST reader until the data issue lands).
export { loadMnist, loadMnistSplit, readIdx, type MnistSplit } from './mnist.js';
